#include "served_directory.hpp"

#include <sockserv/base/error.hpp>

#include <cerrno>
#include <memory>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

namespace http_app {

ServedDirectory::ServedDirectory(const std::filesystem::path& root, bool follow_symlinks, Resolver resolver,
                                 bool file_cache)
    : root_(root, follow_symlinks, resolver),
      cache_(root_, file_cache ? sockserv::OpenFileCache::Limits{} : sockserv::OpenFileCache::Limits{.max_files = 0}) {}

std::variant<ServedDirectory::Opened, ServedDirectory::Refused> ServedDirectory::open(std::string_view relative) const {
    std::error_code error;
    Opened opened{cache_.open(relative, error)};
    if (!opened.file) {
        switch (error.value()) {
        case EXDEV:
        case ELOOP: return Refused::outside;
        case EACCES:
        case EPERM: return Refused::forbidden;
        default: return Refused::not_found;  // ENOENT, ENOTDIR, ENAMETOOLONG, ...
        }
    }
    if (!S_ISREG(opened.status().st_mode) && !S_ISDIR(opened.status().st_mode)) return Refused::forbidden;
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
