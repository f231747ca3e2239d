#pragma once
// The directory being served, and the one way files are opened from it: beneath its root, never
// outside, whatever symlinks or path tricks a request holds.
//
// With openat2(RESOLVE_BENEATH) (Linux 5.6) the kernel refuses, atomically, any resolution that
// leaves the root, ".." and symlinks included. Where openat2 is missing (older kernels, seccomp
// profiles that do not know it) the file is opened normally and its real path, read back from
// /proc/self/fd, must lie under the root's: checked on what was opened, so no race can swap a
// symlink in between.

#include "pages.hpp"

#include <sockserv/unique_fd.hpp>

#include <atomic>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <sys/stat.h>

namespace http_app {

class ServedDirectory {
public:
    enum class Resolver { automatic, proc_fallback };

    /// Opens the root. Throws std::system_error when it is not a readable directory.
    ServedDirectory(const std::filesystem::path& root, bool follow_symlinks, Resolver resolver = Resolver::automatic);

    struct Opened {
        sockserv::UniqueFd fd;
        struct stat status {};
    };
    enum class Refused { not_found, forbidden, outside };

    /// Opens `relative` (a translate_path() result: no ".." components, "" for the root). Regular
    /// files and directories only: a FIFO or device is `forbidden` (opening a FIFO would block).
    /// `outside` when it resolves out of the root (a symlink) and --follow-symlinks is off.
    /// Thread safe.
    std::variant<Opened, Refused> open(std::string_view relative) const;
    /// The entries of an opened directory, "." and ".." left out.
    std::vector<ListingEntry> list(int directory_fd) const;

    const std::filesystem::path& root() const noexcept { return root_; }

private:
    int open_beneath(const char* path) const;

    std::filesystem::path root_;  // canonical
    sockserv::UniqueFd root_fd_;
    bool follow_symlinks_;
    mutable std::atomic<bool> use_openat2_;
};

}  // namespace http_app
