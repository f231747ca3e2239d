#pragma once
// FileRoot: a directory that files are served from (or uploaded into), and the one way to open
// paths under it: beneath the root, never outside, whatever symlinks a path holds.
//
// With openat2(RESOLVE_BENEATH) (Linux 5.6) the kernel refuses, atomically, any resolution that
// leaves the root, ".." and symlinks included. Where openat2 is missing (older kernels, seccomp
// profiles that do not know it) the file is opened normally and its real path, read back from
// /proc/self/fd, must lie under the root's: checked on what was opened, so no race can swap a
// symlink in between.

#include <sockserv/base/unique_fd.hpp>

#include <atomic>
#include <string>
#include <string_view>
#include <system_error>

#include <sys/types.h>

namespace sockserv {

class FileRoot {
public:
    enum class Resolver { automatic, proc_fallback };

    /// Opens the root directory. Throws std::system_error when it is not one.
    explicit FileRoot(const std::string& root, bool follow_symlinks = false,
                      Resolver resolver = Resolver::automatic);

    /// openat(root, relative, flags, mode) confined to the root ("" or "." is the root itself).
    /// `relative` must not be absolute. On failure returns an empty fd and sets `error`: EXDEV when
    /// the path resolves outside the root (a symlink, unless follow_symlinks), else the errno of
    /// the open (ENOENT, EACCES, ...). O_CLOEXEC is always added. Thread safe.
    UniqueFd open(std::string_view relative, int flags, std::error_code& error, mode_t mode = 0) const;

    /// The canonical path of the root. (A string, not std::filesystem::path: <filesystem> alone
    /// would double the time to compile a file that includes sockserv.hpp.)
    const std::string& path() const noexcept { return root_; }
    bool follows_symlinks() const noexcept { return follow_symlinks_; }

private:
    int open_confined(const char* path, int flags, mode_t mode) const;

    std::string root_;
    UniqueFd root_fd_;
    bool follow_symlinks_;
    mutable std::atomic<bool> use_openat2_;
};

}  // namespace sockserv
