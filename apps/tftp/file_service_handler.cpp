#include "file_service_handler.hpp"
#include "framing.hpp"

#include <sockserv/base/log.hpp>
#include <sockserv/base/text.hpp>

namespace tftp {

using framing::Type;

void FileServiceHandler::log(const std::string& line) const {
    sockserv::log(client_address().to_string(), " tcp ", line);
}

void FileServiceHandler::send_error(std::uint16_t code, const std::string& message) {
    wfile().write(framing::message(Type::error, message, code));
    state().metrics.refused.add();
    log("error " + std::to_string(code) + " " + sockserv::escape_control_characters(message));
}

void FileServiceHandler::handle() {
    for (;;) {
        auto next = framing::read_header(rfile());
        if (!next) return;  // the client is done
        if (const auto* problem = std::get_if<std::string>(&*next)) {
            send_error(illegal_operation, *problem);
            return;  // the stream is out of step: nothing after this can be trusted
        }
        const auto header = std::get<framing::Header>(*next);
        const bool is_command = header.type == Type::list || header.type == Type::get || header.type == Type::put;
        if (!is_command || header.length > framing::max_control_body) {
            send_error(illegal_operation, is_command ? "message too long" : "not a command");
            return;
        }
        std::string body;
        if (!rfile().read_exact(body, static_cast<std::size_t>(header.length))) return;
        if (header.type == Type::list) {
            list();
        } else if (header.type == Type::get) {
            get(body);
        } else {
            const auto put_request = framing::parse_put(body);
            if (!put_request) {
                send_error(illegal_operation, "malformed PUT");
                return;
            }
            if (!put(put_request->first, put_request->second)) return;
        }
    }
}

void FileServiceHandler::list() {
    std::string body;
    for (const auto& [name, size] : state().files.list()) body.append(std::to_string(size)).append(" ").append(name).append("\n");
    wfile().write(framing::message(Type::listing, body));
    log("list");
}

void FileServiceHandler::get(const std::string& name) {
    auto opened = state().files.open_for_read(name);
    if (const auto* refusal = std::get_if<Refusal>(&opened)) return send_error(refusal->code, refusal->message);
    auto& download = std::get<Files::Download>(opened);
    wfile().write(framing::encode({Type::file, 0, download.size}));
    const std::size_t sent = wfile().sendfile(download.file.get(), 0, static_cast<std::size_t>(download.size));
    state().metrics.bytes_sent.add(sent);
    if (sent < download.size) {
        state().metrics.failed.add();
        throw std::runtime_error(name + ": file shrank while being sent");
    }
    state().metrics.done.add();
    log("get \"" + sockserv::escape_control_characters(name) + "\" " + std::to_string(download.size) + " bytes");
}

bool FileServiceHandler::put(std::uint64_t size, const std::string& name) {
    auto begun = state().files.begin_upload(name);
    if (const auto* refusal = std::get_if<Refusal>(&begun)) {
        send_error(refusal->code, refusal->message);
        return true;  // nothing was sent after the PUT: the stream is still in step
    }
    Upload& upload = std::get<Upload>(begun);
    wfile().write(framing::message(Type::ready));
    wfile().flush();
    std::uint64_t left = size;
    try {
        while (left > 0) {
            if (rfile().buffered().empty() && rfile().fill() == 0) {
                upload.abandon();
                state().metrics.failed.add();
                state().metrics.bytes_received.add(size - left);
                log("put \"" + sockserv::escape_control_characters(name) + "\": client left after " +
                    std::to_string(size - left) + " of " + std::to_string(size) + " bytes; nothing kept");
                return false;
            }
            const std::string_view chunk = rfile().buffered().substr(0, static_cast<std::size_t>(
                                                                        std::min<std::uint64_t>(left, rfile().buffered().size())));
            upload.write(chunk);
            rfile().consume(chunk.size());
            left -= chunk.size();
        }
        upload.commit();
    } catch (const ProtocolError& error) {
        send_error(error.code, error.what());
        // The rest of the upload may still be coming: close rather than misread it, but read
        // and drop it meanwhile, or the RST for unread data may reach the client before the error.
        lingering_close();
        return false;
    }
    wfile().write(framing::message(Type::done));
    state().metrics.done.add();
    state().metrics.bytes_received.add(size);
    log("put \"" + sockserv::escape_control_characters(name) + "\" " + std::to_string(size) + " bytes");
    return true;
}

}  // namespace tftp
