#include <sockserv/io/open_file_cache.hpp>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>

#include <fcntl.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace sockserv {

namespace {

// Counts forks, in the child: a cache made before one is not the child's (its inotify fd is shared
// with the parent). Asking getpid() per lookup would cost the system call the cache saves.
std::atomic<std::uint64_t> fork_generation{1};
std::once_flag fork_counter_installed;
std::atomic<bool> bypassed{false};

void count_forks() {
    std::call_once(fork_counter_installed, [] {
        ::pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
    });
}

// O_NONBLOCK: a FIFO placed in the tree must not hang open(); O_NOCTTY: nor a terminal become ours.
constexpr int open_flags = O_RDONLY | O_NONBLOCK | O_NOCTTY;
// A file's own changes (also through another hard link), and a directory's entries coming and
// going. Not IN_ACCESS or IN_OPEN: serving a file must not clear the cache.
constexpr std::uint32_t file_events = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVE_SELF | IN_DELETE_SELF;
constexpr std::uint32_t directory_events =
    IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF | IN_ONLYDIR;

}  // namespace

OpenFileCache::OpenFileCache(const FileRoot& root, Limits limits) : root_(root), limits_(limits) { count_forks(); }

OpenFileCache::OpenFileCache(const FileRoot& root) : OpenFileCache(root, Limits{}) {}

void OpenFileCache::bypass_in_this_process() noexcept { bypassed.store(true, std::memory_order_relaxed); }

OpenFileCache::~OpenFileCache() = default;

bool OpenFileCache::enabled() const {
    std::lock_guard lock(mutex_);
    return limits_.max_files > 0 && !broken_;
}

std::size_t OpenFileCache::size() const {
    std::lock_guard lock(mutex_);
    return files_.size();
}

bool OpenFileCache::start_locked() {
    const std::uint64_t generation = fork_generation.load(std::memory_order_relaxed);
    if (started_ && generation_ == generation) return !broken_;
    // First use in this process: what a parent cached stays valid only as long as the parent's fd
    // is read by the parent alone.
    files_.clear();
    open_files_ = 0;
    inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    broken_ = !inotify_;  // ENOSYS, or EMFILE (fs.inotify.max_user_instances): serve uncached
    started_ = true;
    generation_ = generation;
    inotify_fd_.store(inotify_.get(), std::memory_order_release);
    restarts_.fetch_add(1, std::memory_order_release);
    return !broken_;
}

// Reads every pending event; any at all empties the cache. Events name a watch, not a cached file,
// and what a directory's event means for the paths beneath it is not worth working out: changes to
// a served tree are rare, and the next requests fill the cache again.
bool OpenFileCache::changed_locked() {
    // Room for one event with the longest name, no more: this runs before every request, and a
    // frame over a page is probed at entry — a cache miss each time on a fiber's stack at
    // thousands of connections. More events take more reads, and any at all empties the cache.
    alignas(inotify_event) char events[sizeof(inotify_event) + NAME_MAX + 1];
    bool changed = false;
    for (;;) {
        const ssize_t n = ::read(inotify_.get(), events, sizeof events);
        if (n > 0) {
            changed = true;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;  // EAGAIN: nothing (more) queued
    }
    if (changed) {
        files_.clear();
        open_files_ = 0;
        ++changes_;
    }
    return changed;
}

// Before the mutex: whether events may be queued, without taking them (FIONREAD). Errs towards yes:
// an fd not made yet, or one a restart may have replaced, is read under the mutex as before.
bool OpenFileCache::may_have_changed(std::uint64_t& restarts_seen) const {
    restarts_seen = restarts_.load(std::memory_order_acquire);
    const int fd = inotify_fd_.load(std::memory_order_acquire);
    int queued = 0;
    return fd < 0 || ::ioctl(fd, FIONREAD, &queued) != 0 || queued != 0;
}

// Watches the root, each directory on the way, and the file: made before the file is opened, so a
// change after the watch is reported, and one before it is in what is opened.
bool OpenFileCache::watch(const std::string& relative) {
    std::string path = root_.path();
    if (::inotify_add_watch(inotify_.get(), path.c_str(), directory_events) < 0) return false;
    std::size_t start = 0;
    for (;;) {
        const std::size_t slash = relative.find('/', start);
        const bool last = slash == std::string::npos;
        path.append("/").append(relative, start, last ? std::string::npos : slash - start);
        if (::inotify_add_watch(inotify_.get(), path.c_str(), last ? file_events : directory_events) < 0) return false;
        if (last) return true;
        start = slash + 1;
    }
}

std::shared_ptr<OpenFileCache::File> OpenFileCache::load(std::string_view relative, std::error_code& error) {
    auto file = std::make_shared<File>();
    file->fd = root_.open(relative, open_flags, error);
    if (!file->fd) return nullptr;
    if (::fstat(file->fd.get(), &file->status) != 0) {
        error.assign(errno, std::generic_category());
        return nullptr;
    }
    return file;
}

std::shared_ptr<const OpenFileCache::File> OpenFileCache::open(std::string_view relative, std::error_code& error) {
    error.clear();
    const std::string key(relative);
    bool cacheable = false;
    std::uint64_t changes_seen = 0;
    if (limits_.max_files > 0 && !relative.empty() && !bypassed.load(std::memory_order_relaxed)) {
        std::uint64_t restarts_seen = 0;
        const bool events_maybe_queued = may_have_changed(restarts_seen);
        std::lock_guard lock(mutex_);
        if (start_locked()) {
            if (events_maybe_queued || restarts_.load(std::memory_order_relaxed) != restarts_seen) changed_locked();
            if (const auto found = files_.find(key); found != files_.end()) return found->second;
            cacheable = watch(key);
            changes_seen = changes_;
        }
    }
    std::shared_ptr<File> file = load(relative, error);
    if (!file || !cacheable || !S_ISREG(file->status.st_mode)) return file;

    // Only a file reached without a symlink (its real path is the one watched): the watches on a
    // link's way do not see the target's own directory change. Links that stay beneath the root
    // are served, and served uncached.
    {
        char link[64];
        std::snprintf(link, sizeof link, "/proc/self/fd/%d", file->fd.get());
        std::string real(4096, '\0');
        const ssize_t n = ::readlink(link, real.data(), real.size());
        real.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        std::string expected = root_.path();
        if (expected != "/") expected.append("/");
        expected.append(key);
        if (real != expected) return file;
    }
    const auto size = static_cast<std::size_t>(file->status.st_size);
    if (size <= limits_.max_contents) {
        file->contents.resize(size);
        std::size_t got = 0;
        while (got < size) {
            const ssize_t n = ::pread(file->fd.get(), file->contents.data() + got, size - got, static_cast<off_t>(got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return file;  // it shrank or failed: serve it as opened, uncached
            got += static_cast<std::size_t>(n);
        }
        file->has_contents = true;
        file->fd.reset();
    }

    std::lock_guard lock(mutex_);
    // Anything that changed since the watches went on may have changed what was read: not kept,
    // whether this check reads the event or another thread's lookup read it meanwhile.
    if (changed_locked() || changes_ != changes_seen || fork_generation.load(std::memory_order_relaxed) != generation_)
        return file;
    if (!file->has_contents && open_files_ >= limits_.max_open) return file;
    if (files_.size() >= limits_.max_files) {
        files_.clear();
        open_files_ = 0;
    }
    if (!file->has_contents) ++open_files_;
    files_.emplace(key, file);
    return file;
}

}  // namespace sockserv
