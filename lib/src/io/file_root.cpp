#include <sockserv/base/error.hpp>
#include <sockserv/io/file_root.hpp>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <string>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sockserv {

FileRoot::FileRoot(const std::string& root, bool follow_symlinks, Resolver resolver)
    : root_(std::filesystem::canonical(root).native()),
      root_fd_(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
      follow_symlinks_(follow_symlinks),
      use_openat2_(resolver == Resolver::automatic) {
    if (!root_fd_) throw_errno("open directory " + root_);
}

int FileRoot::open_confined(const char* path, int flags, mode_t mode) const {
    flags |= O_CLOEXEC;
    if (follow_symlinks_) return ::openat(root_fd_.get(), path, flags, mode);
    if (use_openat2_.load(std::memory_order_relaxed)) {
        open_how how{};
        how.flags = static_cast<std::uint64_t>(flags);
        how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;  // openat2 refuses a mode it does not use
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        const long fd = ::syscall(SYS_openat2, root_fd_.get(), path, &how, sizeof how);
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return static_cast<int>(fd);
        use_openat2_.store(false, std::memory_order_relaxed);  // not here: fall back, for good
    }
    const int fd = ::openat(root_fd_.get(), path, flags, mode);
    if (fd < 0) return fd;
    char link[64];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    std::string real(PATH_MAX, '\0');
    const ssize_t n = ::readlink(link, real.data(), real.size());
    real.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    const std::string& base = root_;
    const bool inside = real == base || (real.size() > base.size() && real.compare(0, base.size(), base) == 0 &&
                                         (base == "/" || real[base.size()] == '/'));
    if (!inside) {
        ::close(fd);
        errno = EXDEV;  // what openat2 says for the same case
        return -1;
    }
    return fd;
}

UniqueFd FileRoot::open(std::string_view relative, int flags, std::error_code& error, mode_t mode) const {
    error.clear();
    if (!relative.empty() && relative.front() == '/') {
        error = std::make_error_code(std::errc::cross_device_link);
        return {};
    }
    const std::string path = relative.empty() ? std::string(".") : std::string(relative);
    UniqueFd fd(open_confined(path.c_str(), flags, mode));
    if (!fd) error = std::error_code(errno, std::generic_category());
    return fd;
}

}  // namespace sockserv
