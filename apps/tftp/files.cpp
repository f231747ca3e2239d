#include "files.hpp"

#include <sockserv/base/text.hpp>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <random>

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tftp {

namespace {
constexpr std::string_view temporary_marker = ".part-";

Refusal refusal_for(const std::error_code& error, std::string_view name) {
    if (error == std::errc::cross_device_link || error == std::errc::too_many_symbolic_link_levels)
        return {2, std::string(name) + ": leads outside the served directory"};
    if (error == std::errc::permission_denied || error == std::errc::operation_not_permitted)
        return {2, std::string(name) + ": permission denied"};
    return {1, std::string(name) + ": file not found"};
}
}  // namespace

std::optional<std::string> name_problem(std::string_view name) {
    if (name.empty()) return "empty file name";
    if (name.size() > 1024) return "file name too long";
    if (name.front() == '/') return "absolute paths are not served";
    if (name.find('\\') != std::string_view::npos) return "backslashes are not allowed in names";
    if (!sockserv::is_valid_utf8(name) || sockserv::has_control_characters(name) ||
        name.find('\t') != std::string_view::npos)
        return "control characters or invalid UTF-8 in the name";
    std::string_view rest = name;
    while (!rest.empty()) {
        const auto slash = rest.find('/');
        const std::string_view part = rest.substr(0, slash);
        if (part == "..") return "'..' is not allowed in names";
        if (part.find(temporary_marker) != std::string_view::npos) return "reserved name";
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    }
    return std::nullopt;
}

Files::Files(const std::filesystem::path& root, FilePolicy policy) : root_(root), policy_(policy) {}

std::variant<Files::Download, Refusal> Files::open_for_read(std::string_view name) const {
    if (auto problem = name_problem(name)) return Refusal{2, *problem};
    std::error_code error;
    Download download;
    download.file = root_.open(name, O_RDONLY | O_NONBLOCK | O_NOCTTY, error);
    if (!download.file) return refusal_for(error, name);
    struct stat status {};
    if (::fstat(download.file.get(), &status) != 0 || !S_ISREG(status.st_mode))
        return Refusal{2, std::string(name) + ": not a regular file"};
    // O_NONBLOCK was only for the open (a FIFO must not hang us); reads of a file never block.
    download.size = static_cast<std::uint64_t>(status.st_size);
    return download;
}

std::variant<Upload, Refusal> Files::begin_upload(std::string_view name) const {
    if (!policy_.allow_upload) return Refusal{2, "uploads are off on this server (--allow-upload)"};
    if (auto problem = name_problem(name)) return Refusal{2, *problem};
    if (name.back() == '/') return Refusal{2, "not a file name"};
    const auto slash = name.rfind('/');
    const std::string parent = slash == std::string_view::npos ? std::string() : std::string(name.substr(0, slash));
    const std::string base(slash == std::string_view::npos ? name : name.substr(slash + 1));
    if (base.empty() || base == "." || base == "..") return Refusal{2, "not a file name"};

    std::error_code error;
    sockserv::UniqueFd directory = root_.open(parent, O_PATH | O_DIRECTORY, error);
    if (!directory) return refusal_for(error, parent.empty() ? std::string_view(".") : std::string_view(parent));

    struct stat status {};
    const bool exists = ::fstatat(directory.get(), base.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists) {
        if (S_ISLNK(status.st_mode)) {
            // Writing would replace the link, not its target; refuse one that points out all the
            // same, as the root policy says, and follow one that stays inside.
            auto target = root_.open(name, O_PATH, error);
            if (!target) return refusal_for(error, name);
            if (::fstat(target.get(), &status) != 0) return Refusal{2, std::string(name) + ": cannot stat"};
        }
        if (!S_ISREG(status.st_mode)) return Refusal{2, std::string(name) + ": not a regular file"};
        if (!policy_.overwrite) return Refusal{6, std::string(name) + ": file exists"};
    } else if (!policy_.create) {
        return Refusal{2, std::string(name) + ": does not exist, and creating files is off (--create)"};
    }

    static thread_local std::mt19937_64 random(std::random_device{}());
    for (int attempt = 0; attempt < 8; ++attempt) {
        char suffix[24];
        std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(random()));
        std::string temporary(".");
        temporary.append(base, 0, 200).append(temporary_marker).append(suffix);
        const int fd = ::openat(directory.get(), temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0)
            return Upload(std::move(directory), base, std::move(temporary), sockserv::UniqueFd(fd), policy_.overwrite);
        if (errno != EEXIST) {
            if (errno == ENOSPC || errno == EDQUOT) return Refusal{3, "disk full"};
            return Refusal{2, std::string(name) + ": cannot create"};
        }
    }
    return Refusal{2, std::string(name) + ": cannot create a temporary file"};
}

std::vector<std::pair<std::string, std::uint64_t>> Files::list() const {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    std::error_code error;
    auto directory_fd = root_.open("", O_RDONLY | O_DIRECTORY, error);
    if (!directory_fd) return out;
    const int fd = directory_fd.release();
    std::unique_ptr<DIR, int (*)(DIR*)> directory(::fdopendir(fd), ::closedir);
    if (!directory) {
        ::close(fd);
        return out;
    }
    while (const dirent* entry = ::readdir(directory.get())) {
        const std::string_view name = entry->d_name;
        if (name == "." || name == ".." || name.find(temporary_marker) != std::string_view::npos) continue;
        struct stat status {};
        if (::fstatat(::dirfd(directory.get()), entry->d_name, &status, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(status.st_mode))
            out.emplace_back(std::string(name), static_cast<std::uint64_t>(status.st_size));
    }
    std::sort(out.begin(), out.end());
    return out;
}

Upload::Upload(sockserv::UniqueFd directory, std::string name, std::string temporary, sockserv::UniqueFd file,
               bool replace)
    : directory_(std::move(directory)),
      name_(std::move(name)),
      temporary_(std::move(temporary)),
      file_(std::move(file)),
      replace_(replace) {}

Upload::Upload(Upload&& other) noexcept
    : directory_(std::move(other.directory_)),
      name_(std::move(other.name_)),
      temporary_(std::move(other.temporary_)),
      file_(std::move(other.file_)),
      replace_(other.replace_),
      committed_(other.committed_),
      size_(other.size_) {
    other.committed_ = true;  // the moved-from object owns nothing to remove
}

Upload::~Upload() { abandon(); }

void Upload::abandon() noexcept {
    if (!committed_ && directory_) ::unlinkat(directory_.get(), temporary_.c_str(), 0);
    committed_ = true;  // nothing left to remove
}

void Upload::write(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(file_.get(), bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOSPC || errno == EDQUOT) throw UploadError(3, "disk full");
            throw UploadError(0, "write failed");
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
        size_ += static_cast<std::uint64_t>(n);
    }
}

void Upload::commit() {
    file_.reset();
    const unsigned flags = replace_ ? 0 : RENAME_NOREPLACE;
    if (::renameat2(directory_.get(), temporary_.c_str(), directory_.get(), name_.c_str(), flags) != 0) {
        if (errno == EEXIST) throw UploadError(6, name_ + ": file exists");
        throw UploadError(2, name_ + ": cannot rename into place");
    }
    committed_ = true;
}

}  // namespace tftp
