#include "client.hpp"
#include "framing.hpp"
#include "netascii.hpp"
#include "service.hpp"
#include "transfer.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tftp {

namespace {

// A download in progress: LOCAL.part, renamed onto LOCAL by commit(), removed otherwise.
class LocalFile {
public:
    explicit LocalFile(std::filesystem::path target) : target_(std::move(target)), temporary_(target_) {
        temporary_ += ".part";
        fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) throw ClientError(0, "cannot write " + temporary_.string() + ": " + std::strerror(errno));
    }
    ~LocalFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(temporary_.c_str());
    }
    void write(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw ClientError(3, "cannot write " + temporary_.string() + ": " + std::strerror(errno));
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    void commit() {
        ::close(fd_);
        fd_ = -1;
        if (::rename(temporary_.c_str(), target_.c_str()) != 0)
            throw ClientError(0, "cannot rename onto " + target_.string() + ": " + std::strerror(errno));
        committed_ = true;
    }

private:
    std::filesystem::path target_, temporary_;
    int fd_ = -1;
    bool committed_ = false;
};

struct OpenedLocal {
    int fd;
    std::uint64_t size;
    ~OpenedLocal() { ::close(fd); }
};

std::unique_ptr<OpenedLocal> open_local(const std::filesystem::path& local) {
    const int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw ClientError(1, local.string() + ": " + std::strerror(errno));
    struct stat status {};
    if (::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
        ::close(fd);
        throw ClientError(2, local.string() + ": not a regular file");
    }
    return std::unique_ptr<OpenedLocal>(new OpenedLocal{fd, static_cast<std::uint64_t>(status.st_size)});
}

bool is_tty() { return ::isatty(STDERR_FILENO) == 1; }

}  // namespace

FileServiceClient::FileServiceClient(const sockserv::Address& server, const sockserv::tls::ClientContext* tls,
                                     const std::string& server_name)
    : socket_(server.family(), SOCK_STREAM) {
    constexpr std::chrono::seconds patience{60};
    socket_.connect(server);
    socket_.set_timeout(patience);
    if (tls) stream_ = sockserv::tls::TlsStream::connect(*tls, socket_, server_name, sockserv::WaitClock::now() + patience);
    else stream_ = std::make_unique<sockserv::SocketStream>(socket_);
    out_ = std::make_unique<sockserv::SocketWriter>(*stream_);
    in_ = std::make_unique<sockserv::SocketReader>(*stream_, out_.get());
}

namespace {
framing::Header expect_header(sockserv::SocketReader& in, sockserv::SocketWriter& out, bool flush = true) {
    if (flush) out.flush();
    auto header = framing::read_header(in);
    if (!header) throw ClientError(0, "the server closed the connection");
    if (const auto* problem = std::get_if<std::string>(&*header)) throw ClientError(0, "bad reply: " + *problem);
    const auto parsed = std::get<framing::Header>(*header);
    if (parsed.type == framing::Type::error) {
        std::string message;
        in.read_exact(message, static_cast<std::size_t>(std::min<std::uint64_t>(parsed.length, framing::max_control_body)));
        throw ClientError(parsed.code, message);
    }
    return parsed;
}
}  // namespace

std::vector<std::pair<std::string, std::uint64_t>> FileServiceClient::list() {
    out_->write(framing::message(framing::Type::list));
    const auto header = expect_header(*in_, *out_);
    if (header.type != framing::Type::listing || header.length > 64 * 1024 * 1024) throw ClientError(0, "unexpected reply");
    std::string body;
    if (!in_->read_exact(body, static_cast<std::size_t>(header.length))) throw ClientError(0, "listing cut short");
    std::vector<std::pair<std::string, std::uint64_t>> out;
    std::size_t start = 0;
    while (start < body.size()) {
        const auto end = body.find('\n', start);
        const std::string line = body.substr(start, end - start);
        const auto space = line.find(' ');
        if (space != std::string::npos)
            out.emplace_back(line.substr(space + 1), std::stoull(line.substr(0, space)));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return out;
}

std::uint64_t FileServiceClient::get(const std::string& name, const std::filesystem::path& local, bool show_progress) {
    out_->write(framing::message(framing::Type::get, name));
    const auto header = expect_header(*in_, *out_);
    if (header.type != framing::Type::file) throw ClientError(0, "unexpected reply");
    LocalFile file(local);
    Progress progress(name, header.length, show_progress && is_tty());
    // Large reads straight into our buffer (read_some bypasses the reader's own for big sizes):
    // a few system calls per MiB rather than one per 16 KiB.
    constexpr std::size_t chunk = 1 << 20;
    const auto buffer = std::make_unique_for_overwrite<char[]>(chunk);
    std::uint64_t left = header.length;
    while (left > 0) {
        const std::size_t n = in_->read_some(buffer.get(), static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk)));
        if (n == 0) throw ClientError(0, "connection closed mid-file");
        file.write(std::string_view(buffer.get(), n));
        left -= n;
        progress.advance(n);
    }
    file.commit();
    progress.done();
    return header.length;
}

std::uint64_t FileServiceClient::put(const std::filesystem::path& local, const std::string& name, bool show_progress) {
    const auto file = open_local(local);
    out_->write(framing::message(framing::Type::put, framing::put_body(file->size, name)));
    if (expect_header(*in_, *out_).type != framing::Type::ready) throw ClientError(0, "unexpected reply");
    Progress progress(name, file->size, show_progress && is_tty());
    constexpr std::uint64_t chunk = 1 << 20;
    for (std::uint64_t sent = 0; sent < file->size;) {
        const std::uint64_t n = std::min(chunk, file->size - sent);
        try {
            if (out_->sendfile(file->fd, sent, static_cast<std::size_t>(n)) != n) throw ClientError(0, local.string() + " shrank");
        } catch (const std::system_error&) {
            // The server refused mid-upload (disk full, say) and closed: its ERROR frame is waiting
            // to be read, and says why better than EPIPE does. (Its lingering close keeps the RST
            // for our unread bytes from destroying that frame.)
            expect_header(*in_, *out_, false);
            throw;
        }
        sent += n;
        progress.advance(n);
    }
    if (expect_header(*in_, *out_).type != framing::Type::done) throw ClientError(0, "unexpected reply");
    progress.done();
    return file->size;
}

namespace {

Request udp_request(bool write, const std::string& name, const UdpOptions& options, std::uint64_t tsize) {
    Request request;
    request.write = write;
    request.filename = name;
    request.mode = options.netascii ? "netascii" : "octet";
    if (options.blksize) request.options.emplace_back("blksize", std::to_string(*options.blksize));
    if (options.windowsize) request.options.emplace_back("windowsize", std::to_string(*options.windowsize));
    if (!options.netascii) request.options.emplace_back("tsize", std::to_string(tsize));
    return request;
}

class LocalSink : public Sink {
public:
    LocalSink(LocalFile& file, bool netascii, Progress& progress) : file_(file), netascii_(netascii), progress_(progress) {}
    void write(std::string_view bytes) override {
        progress_.advance(bytes.size());
        if (!netascii_) return file_.write(bytes);
        decoded_.clear();
        decoder_.decode(bytes, decoded_);
        file_.write(decoded_);
    }
    void finish() override {
        decoded_.clear();
        decoder_.finish(decoded_);
        file_.write(decoded_);
    }

private:
    LocalFile& file_;
    bool netascii_;
    Progress& progress_;
    NetasciiDecoder decoder_;
    std::string decoded_;
};

class CountingSource : public Source {
public:
    CountingSource(Source& inner, Progress& progress) : inner_(inner), progress_(progress) {}
    std::size_t read(char* buffer, std::size_t n) override {
        const std::size_t got = inner_.read(buffer, n);
        progress_.advance(got);
        return got;
    }

private:
    Source& inner_;
    Progress& progress_;
};

TransferSettings client_settings(const UdpOptions& options) {
    TransferSettings settings;
    settings.timeout = options.timeout;
    settings.max_retries = options.retries;
    settings.dally = std::chrono::milliseconds(0);  // the server retransmits to a client that left; harmless
    return settings;
}

}  // namespace

std::uint64_t udp_get(const sockserv::Address& server, const std::string& name, const std::filesystem::path& local,
                      const UdpOptions& options, bool show_progress) {
    sockserv::Socket socket(server.family(), SOCK_DGRAM);
    const Request request = udp_request(false, name, options, 0);
    Transfer transfer(socket, server, false, client_settings(options));
    Progress progress(name, std::nullopt, show_progress && is_tty());
    transfer.on_oack = [&](const OptionAck& oack) -> std::optional<std::string> {
        auto problem = apply_oack(request.options, oack.options, transfer.settings().options);
        if (!problem && transfer.settings().options.tsize) progress.set_total(*transfer.settings().options.tsize);
        return problem;
    };
    LocalFile file(local);
    LocalSink sink(file, options.netascii, progress);
    const Outcome outcome = transfer.receive(sink, encode_request(request));
    if (!outcome.ok) throw ClientError(0, outcome.error);
    file.commit();
    progress.done();
    return outcome.bytes;
}

std::uint64_t udp_put(const sockserv::Address& server, const std::filesystem::path& local, const std::string& name,
                      const UdpOptions& options, bool show_progress) {
    const auto file = open_local(local);
    sockserv::Socket socket(server.family(), SOCK_DGRAM);
    const Request request = udp_request(true, name, options, file->size);
    Transfer transfer(socket, server, false, client_settings(options));
    transfer.on_oack = [&](const OptionAck& oack) { return apply_oack(request.options, oack.options, transfer.settings().options); };
    Progress progress(name, file->size, show_progress && is_tty());
    FileSource source(file->fd, options.netascii);
    CountingSource counting(source, progress);
    const Outcome outcome = transfer.send(counting, encode_request(request));
    if (!outcome.ok) throw ClientError(0, outcome.error);
    progress.done();
    return file->size;
}

}  // namespace tftp
