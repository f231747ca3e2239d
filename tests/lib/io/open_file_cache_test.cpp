// OpenFileCache: hot files held open or in memory, and never stale — every change that inotify
// reports (write, truncate, rename over, delete, a directory renamed away, a hard link written
// elsewhere) is seen by the very next open. Real files, real inotify.

#include <sockserv/io/open_file_cache.hpp>
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using sockserv::FileRoot;
using sockserv::OpenFileCache;

namespace {

// What a request would send: the held bytes, or the file read through its fd.
std::string bytes_of(const OpenFileCache::File& file) {
    if (file.has_contents) return file.contents;
    std::string out(static_cast<std::size_t>(file.status.st_size), '\0');
    REQUIRE(::pread(file.fd.get(), out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
    return out;
}

std::string served(OpenFileCache& cache, const std::string& path) {
    std::error_code error;
    const auto file = cache.open(path, error);
    REQUIRE(file);
    return bytes_of(*file);
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

// Runs check in a forked child; true when it returned true there (the child _exits: no Catch
// assertions in it).
template <class Check>
bool in_child(Check check) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) ::_exit(check() ? 0 : 1);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

TEST_CASE("OpenFileCache holds a hot file and serves the same one again", "[open_file_cache]") {
    test::TempDir root;
    write_file(root / "small.txt", "small");
    write_file(root / "big.bin", std::string(100 * 1024, 'b'));
    const FileRoot files(root.path());
    OpenFileCache cache(files);
    REQUIRE(cache.enabled());
    std::error_code error;
    const auto first = cache.open("small.txt", error);
    REQUIRE(first);
    CHECK(first->has_contents);
    CHECK(first->contents == "small");
    CHECK_FALSE(first->fd);  // a small file is its bytes: no fd held
    CHECK(cache.open("small.txt", error) == first);
    const auto big = cache.open("big.bin", error);
    REQUIRE(big);
    CHECK_FALSE(big->has_contents);
    CHECK(big->fd);
    CHECK(cache.open("big.bin", error) == big);
    CHECK(cache.size() == 2);

    // Not regular files, and what does not exist, are not held.
    const auto directory = cache.open("", error);
    REQUIRE(directory);
    CHECK(S_ISDIR(directory->status.st_mode));
    CHECK_FALSE(cache.open("missing.txt", error));
    CHECK(error == std::errc::no_such_file_or_directory);
    CHECK(cache.size() == 2);
}

TEST_CASE("OpenFileCache is never stale: each change is seen by the next open", "[open_file_cache]") {
    test::TempDir root;
    std::filesystem::create_directories(root / "dir");
    const FileRoot files(root.path());
    OpenFileCache cache(files);

    SECTION("rewritten in place, the same size, many times over") {
        for (int i = 0; i < 200; ++i) {
            const std::string text = "version " + std::to_string(1000 + i);
            write_file(root / "dir" / "page.html", text);
            REQUIRE(served(cache, "dir/page.html") == text);
            REQUIRE(served(cache, "dir/page.html") == text);  // and held
        }
    }
    SECTION("a large file written in place") {
        write_file(root / "big.bin", std::string(64 * 1024, 'a'));
        CHECK(served(cache, "big.bin") == std::string(64 * 1024, 'a'));
        write_file(root / "big.bin", std::string(64 * 1024, 'z'));
        CHECK(served(cache, "big.bin") == std::string(64 * 1024, 'z'));
    }
    SECTION("replaced by a rename, as editors and deploys do") {
        write_file(root / "dir" / "page.html", "old");
        CHECK(served(cache, "dir/page.html") == "old");
        write_file(root / "dir" / "page.html.new", "new");
        std::filesystem::rename(root / "dir" / "page.html.new", root / "dir" / "page.html");
        CHECK(served(cache, "dir/page.html") == "new");
    }
    SECTION("deleted") {
        write_file(root / "dir" / "page.html", "here");
        CHECK(served(cache, "dir/page.html") == "here");
        std::filesystem::remove(root / "dir" / "page.html");
        std::error_code error;
        CHECK_FALSE(cache.open("dir/page.html", error));
        CHECK(error == std::errc::no_such_file_or_directory);
    }
    SECTION("its directory renamed away and another put in its place") {
        write_file(root / "dir" / "page.html", "first tree");
        CHECK(served(cache, "dir/page.html") == "first tree");
        std::filesystem::rename(root / "dir", root / "old-dir");
        std::filesystem::create_directories(root / "dir");
        write_file(root / "dir" / "page.html", "second tree");
        CHECK(served(cache, "dir/page.html") == "second tree");
    }
    SECTION("written through a hard link in another directory") {
        std::filesystem::create_directories(root / "elsewhere");
        write_file(root / "dir" / "page.html", "before");
        std::filesystem::create_hard_link(root / "dir" / "page.html", root / "elsewhere" / "link.html");
        CHECK(served(cache, "dir/page.html") == "before");
        write_file(root / "elsewhere" / "link.html", "after!");
        CHECK(served(cache, "dir/page.html") == "after!");
    }
    SECTION("its permissions changed") {
        write_file(root / "dir" / "page.html", "mode");
        std::error_code error;
        const auto before = cache.open("dir/page.html", error);
        REQUIRE(before);
        std::filesystem::permissions(root / "dir" / "page.html", std::filesystem::perms::owner_read);
        const auto after = cache.open("dir/page.html", error);
        REQUIRE(after);
        CHECK(after != before);
        CHECK((after->status.st_mode & 0777) == 0400);
    }
}

TEST_CASE("OpenFileCache is never stale while other threads fill it: a change one thread reads is not lost to "
          "another's load",
          "[open_file_cache][thread]") {
    // A thread that loaded the file before a change and caches it after another thread took the
    // change's event (and emptied the cache) would hold the old bytes with no event left to say so.
    test::TempDir root;
    const FileRoot files(root.path());
    OpenFileCache cache(files);
    write_file(root / "page.html", "version 1000");
    std::atomic<bool> done{false};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t)
        readers.emplace_back([&] {
            std::error_code error;
            while (!done.load()) cache.open("page.html", error);
        });
    int stale = 0;
    for (int i = 1; i <= 300; ++i) {
        const std::string text = "version " + std::to_string(1000 + i);
        write_file(root / "page.html", text);
        if (served(cache, "page.html") != text) ++stale;
    }
    done = true;
    for (std::thread& reader : readers) reader.join();
    CHECK(stale == 0);
}

TEST_CASE("OpenFileCache serves a symlink beneath the root but does not hold it", "[open_file_cache]") {
    test::TempDir root;
    std::filesystem::create_directories(root / "real");
    write_file(root / "real" / "target.txt", "target");
    std::filesystem::create_symlink("real/target.txt", root / "link.txt");
    const FileRoot files(root.path());
    OpenFileCache cache(files);
    CHECK(served(cache, "link.txt") == "target");
    CHECK(cache.size() == 0);
    // The link's target replaced in its own directory, which no watch on the link's path covers.
    write_file(root / "real" / "target.txt.new", "replaced");
    std::filesystem::rename(root / "real" / "target.txt.new", root / "real" / "target.txt");
    CHECK(served(cache, "link.txt") == "replaced");
}

TEST_CASE("OpenFileCache keeps to its limits, and when off opens every time", "[open_file_cache]") {
    test::TempDir root;
    for (int i = 0; i < 5; ++i) write_file(root / ("f" + std::to_string(i)), std::string(10, char('a' + i)));
    for (int i = 0; i < 3; ++i) write_file(root / ("big" + std::to_string(i)), std::string(50'000, char('A' + i)));
    const FileRoot files(root.path());

    OpenFileCache small(files, {.max_files = 3, .max_contents = 16 * 1024, .max_open = 1});
    for (int i = 0; i < 5; ++i) CHECK(served(small, "f" + std::to_string(i)) == std::string(10, char('a' + i)));
    CHECK(small.size() <= 3);
    CHECK(served(small, "big0") == std::string(50'000, 'A'));
    CHECK(served(small, "big1") == std::string(50'000, 'B'));  // served, not held: one fd at most
    std::error_code error;
    const auto first = small.open("big1", error);
    CHECK(small.open("big1", error) != first);

    OpenFileCache off(files, {.max_files = 0});
    CHECK_FALSE(off.enabled());
    CHECK(served(off, "f0") == std::string(10, 'a'));
    CHECK(off.size() == 0);
}

TEST_CASE("OpenFileCache: a forked process starts its own, and the parent's still sees changes", "[open_file_cache]") {
    test::TempDir root;
    write_file(root / "page.html", "one");
    const FileRoot files(root.path());
    OpenFileCache cache(files);
    CHECK(served(cache, "page.html") == "one");
    CHECK(in_child([&] {
        // The child's own cache (its first lookup made it); then it changes the file. Were the
        // inotify fd shared, the child's read could take the event the parent needs.
        std::error_code error;
        auto file = cache.open("page.html", error);
        bool ok = file && file->contents == "one";
        write_file(root / "page.html", "two");
        file = cache.open("page.html", error);
        return ok && file && file->contents == "two";
    }));
    CHECK(served(cache, "page.html") == "two");
}

TEST_CASE("OpenFileCache: a process forked for one request bypasses it", "[open_file_cache]") {
    test::TempDir root;
    write_file(root / "page.html", "one");
    const FileRoot files(root.path());
    OpenFileCache cache(files);
    CHECK(served(cache, "page.html") == "one");
    CHECK(in_child([&] {
        OpenFileCache::bypass_in_this_process();  // what fork mode's child does
        std::error_code error;
        const auto first = cache.open("page.html", error);
        const auto second = cache.open("page.html", error);
        // Opened each time (its fd, not the parent's held bytes), and no inotify instance of its own.
        return first && second && first != second && !first->has_contents && first->fd;
    }));
    CHECK(served(cache, "page.html") == "one");
}
