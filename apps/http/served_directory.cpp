#include "served_directory.hpp"

#include <sockserv/error.hpp>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <memory>

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace http_app {

namespace {
// O_NONBLOCK: a FIFO placed in the directory must not hang the worker in open(). O_NOCTTY: a
// terminal device must not become our controlling terminal.
constexpr int open_flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
}  // namespace

ServedDirectory::ServedDirectory(const std::filesystem::path& root, bool follow_symlinks, Resolver resolver)
    : root_(std::filesystem::canonical(root)),
      root_fd_(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
      follow_symlinks_(follow_symlinks),
      use_openat2_(resolver == Resolver::automatic) {
    if (!root_fd_) sockserv::throw_errno("open directory " + root_.string());
}

int ServedDirectory::open_beneath(const char* path) const {
    if (follow_symlinks_) return ::openat(root_fd_.get(), path, open_flags);
    if (use_openat2_.load(std::memory_order_relaxed)) {
        open_how how{};
        how.flags = static_cast<std::uint64_t>(open_flags);
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        const long fd = ::syscall(SYS_openat2, root_fd_.get(), path, &how, sizeof how);
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return static_cast<int>(fd);
        use_openat2_.store(false, std::memory_order_relaxed);  // not here: fall back, for good
    }
    const int fd = ::openat(root_fd_.get(), path, open_flags);
    if (fd < 0) return fd;
    char link[64];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    std::string real(PATH_MAX, '\0');
    const ssize_t n = ::readlink(link, real.data(), real.size());
    real.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    const std::string& base = root_.native();
    const bool inside = real == base || (real.size() > base.size() && real.compare(0, base.size(), base) == 0 &&
                                         (base == "/" || real[base.size()] == '/'));
    if (!inside) {
        ::close(fd);
        errno = EXDEV;  // what openat2 says for the same case
        return -1;
    }
    return fd;
}

std::variant<ServedDirectory::Opened, ServedDirectory::Refused> ServedDirectory::open(std::string_view relative) const {
    const std::string path = relative.empty() ? std::string(".") : std::string(relative);
    Opened opened;
    opened.fd = sockserv::UniqueFd(open_beneath(path.c_str()));
    if (!opened.fd) {
        switch (errno) {
        case EXDEV:
        case ELOOP: return Refused::outside;
        case EACCES:
        case EPERM: return Refused::forbidden;
        default: return Refused::not_found;  // ENOENT, ENOTDIR, ENAMETOOLONG, ...
        }
    }
    if (::fstat(opened.fd.get(), &opened.status) != 0) return Refused::not_found;
    if (!S_ISREG(opened.status.st_mode) && !S_ISDIR(opened.status.st_mode)) return Refused::forbidden;
    return opened;
}

std::vector<ListingEntry> ServedDirectory::list(int directory_fd) const {
    std::vector<ListingEntry> entries;
    const int copy = ::fcntl(directory_fd, F_DUPFD_CLOEXEC, 0);  // closedir() closes it, not ours
    if (copy < 0) sockserv::throw_errno("dup directory");
    std::unique_ptr<DIR, int (*)(DIR*)> directory(::fdopendir(copy), ::closedir);
    if (!directory) {
        ::close(copy);
        sockserv::throw_errno("fdopendir");
    }
    ::rewinddir(directory.get());
    while (const dirent* entry = ::readdir(directory.get())) {
        const std::string_view name = entry->d_name;
        if (name == "." || name == "..") continue;
        ListingEntry item;
        item.name = std::string(name);
        struct stat status {};
        if (::fstatat(directory_fd, entry->d_name, &status, AT_SYMLINK_NOFOLLOW) == 0) {
            item.is_symlink = S_ISLNK(status.st_mode);
            if (item.is_symlink) ::fstatat(directory_fd, entry->d_name, &status, 0);  // a dangling one keeps lstat's
            item.is_directory = S_ISDIR(status.st_mode);
            item.size = static_cast<std::uint64_t>(status.st_size);
            item.modified = status.st_mtim.tv_sec;
        }
        entries.push_back(std::move(item));
    }
    return entries;
}

}  // namespace http_app
