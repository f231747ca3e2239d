#pragma once
// OpenFileCache: the regular files of a FileRoot that requests keep asking for, held open (or, when
// small, held as bytes), so a hot file costs no stat, open or close per request — and a small one
// goes out in the same send as the response's head. nginx's open_file_cache, but never stale.
//
//   OpenFileCache cache(root);
//   std::error_code error;
//   if (auto file = cache.open("css/site.css", error)) ... file->status, file->contents or file->fd
//
// Why never stale: before a file is opened for the cache, inotify watches it and every directory
// on its path beneath the root; every lookup first asks the inotify fd whether events are queued
// (FIONREAD: the only system call of a hit) and reads them if so, and any event at all — a write,
// truncate, chmod, rename, create or delete there — empties the whole cache. The kernel queues the
// event inside the writer's own system call, so a request that arrives after a change returned is
// answered from the changed file. (nginx re-checks its entries every open_file_cache_valid, 60 s by
// default, and serves the old file meanwhile.) What inotify does not see is not seen here either:
// writes through a shared mmap, and changes made on another machine to a network file system; a
// cache for such a tree must be switched off (http_server --no-file-cache).
//
// Per process: an inotify fd shared with a forked process would let one process's read take the
// event another needed, so a process that finds it was forked (a pool's worker, a fork-mode child)
// starts a cache of its own on its first lookup. Thread safe: one mutex, held by a hit only for the
// table lookup. A hit asks the inotify fd how much is queued (FIONREAD) before taking it, and takes
// the events only when there are some, emptying the cache in the same hold: a lookup that found
// nothing queued and then waits for the mutex gets it after any thread that took an event has
// emptied the cache, so it cannot be served what the event made stale.

#include <sockserv/base/unique_fd.hpp>
#include <sockserv/io/file_root.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include <sys/stat.h>

namespace sockserv {

class OpenFileCache {
public:
    struct Limits {
        /// Files held; at the limit the cache starts again empty.
        std::size_t max_files = 1024;
        /// Files up to this size are held as bytes (and their fd closed); larger ones stay open.
        std::size_t max_contents = 16 * 1024;
        /// Larger files held open at once (each an fd).
        std::size_t max_open = 64;
    };

    struct File {
        struct stat status {};
        /// The whole file, when it is small (fd is then closed)...
        std::string contents;
        bool has_contents = false;
        /// ...or the file, open read-only (shared by every request: read it with pread or sendfile
        /// at an offset, never by moving its position).
        UniqueFd fd;
    };

    /// The cache is not made until it is first used (see "Per process" above).
    OpenFileCache(const FileRoot& root, Limits limits);
    explicit OpenFileCache(const FileRoot& root);
    ~OpenFileCache();
    OpenFileCache(const OpenFileCache&) = delete;
    OpenFileCache& operator=(const OpenFileCache&) = delete;

    /// The regular file at `relative` (as FileRoot::open takes it), from the cache or opened now
    /// and cached. nullptr when it is not a regular file, could not be opened (`error` says why:
    /// FileRoot::open's errors), or cannot be watched: the caller opens it itself then.
    std::shared_ptr<const File> open(std::string_view relative, std::error_code& error);

    /// This process was forked to serve one request and exit (fork mode's child): every cache made
    /// before the fork is bypassed here, not started again — an inotify instance per child would
    /// cost more system calls than it saves, and use up the user's instances (128 by default).
    static void bypass_in_this_process() noexcept;

    /// Files held now (for tests).
    std::size_t size() const;
    /// inotify works here (false: every open() returns nullptr with no error).
    bool enabled() const;

private:
    bool start_locked();
    bool changed_locked();
    bool may_have_changed(std::uint64_t& restarts_seen) const;
    bool watch(const std::string& relative);
    std::shared_ptr<File> load(std::string_view relative, std::error_code& error);

    const FileRoot& root_;
    Limits limits_;
    mutable std::mutex mutex_;
    UniqueFd inotify_;
    std::uint64_t generation_ = 0;  // the process's fork generation the inotify fd belongs to
    // inotify_'s fd and the times it was made, for the check before the mutex: a lookup that finds
    // restarts_ moved by the time it holds the mutex asked an fd that is gone, and reads the new one.
    std::atomic<int> inotify_fd_{-1};
    std::atomic<std::uint64_t> restarts_{0};
    bool started_ = false;
    bool broken_ = false;  // inotify unavailable (ENOSYS, out of instances)
    std::unordered_map<std::string, std::shared_ptr<const File>> files_;
    std::size_t open_files_ = 0;
    // Times the cache was emptied for a change. A load compares it before and after: the change's
    // event may have been read by another thread's lookup meanwhile, leaving none for its own check.
    std::uint64_t changes_ = 0;
};

}  // namespace sockserv
