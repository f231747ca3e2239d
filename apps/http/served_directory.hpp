#pragma once
// The directory being served: files and directories opened through a sockserv::FileRoot (never
// outside the root), the hot ones kept by an OpenFileCache (no stat, open or close per request,
// a small file's bytes in memory, never stale), and directory listings.

#include "pages.hpp"

#include <sockserv/io/file_root.hpp>
#include <sockserv/io/open_file_cache.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <sys/stat.h>

namespace http_app {

class ServedDirectory {
public:
    using Resolver = sockserv::FileRoot::Resolver;

    /// Opens the root. Throws std::system_error when it is not a readable directory. file_cache:
    /// keep hot files (off: open each one per request).
    ServedDirectory(const std::filesystem::path& root, bool follow_symlinks, Resolver resolver = Resolver::automatic,
                    bool file_cache = true);

    using File = sockserv::OpenFileCache::File;
    struct Opened {
        std::shared_ptr<const File> file;  // shared with the cache when it holds it
        const struct stat& status() const noexcept { return file->status; }
    };
    enum class Refused { not_found, forbidden, outside };

    /// Opens `relative` (a translate_path() result: no ".." components, "" for the root). Regular
    /// files and directories only: a FIFO or device is `forbidden` (opening a FIFO would block).
    /// `outside` when it resolves out of the root (a symlink) and --follow-symlinks is off.
    /// Thread safe.
    std::variant<Opened, Refused> open(std::string_view relative) const;
    /// The entries of an opened directory, "." and ".." left out.
    std::vector<ListingEntry> list(int directory_fd) const;

    const std::string& root() const noexcept { return root_.path(); }

private:
    sockserv::FileRoot root_;
    mutable sockserv::OpenFileCache cache_;
};

}  // namespace http_app
