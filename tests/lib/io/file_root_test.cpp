// FileRoot: opening under a root and never outside it, with openat2 and with the /proc fallback.

#include <sockserv/io/file_root.hpp>
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <fstream>

using sockserv::FileRoot;

TEST_CASE("FileRoot opens inside the root and refuses every way out", "[file_root]") {
    test::TempDir root, outside;
    std::ofstream(root / "in.txt") << "in";
    std::filesystem::create_directories(root / "sub");
    std::ofstream(outside / "secret") << "secret";
    std::filesystem::create_symlink(outside / "secret", root / "out-link");
    std::filesystem::create_symlink(outside.path(), root / "out-dir");
    std::filesystem::create_symlink("../in.txt", root / "sub" / "in-link");
    for (const auto resolver : {FileRoot::Resolver::automatic, FileRoot::Resolver::proc_fallback}) {
        const FileRoot files(root.path(), false, resolver);
        std::error_code error;
        CHECK(files.open("in.txt", O_RDONLY, error));
        CHECK(files.open("sub/in-link", O_RDONLY, error));  // a symlink that stays inside is fine
        CHECK(files.open("", O_RDONLY | O_DIRECTORY, error));
        CHECK_FALSE(files.open("out-link", O_RDONLY, error));
        CHECK(error == std::errc::cross_device_link);
        CHECK_FALSE(files.open("out-dir/secret", O_RDONLY, error));
        CHECK(error == std::errc::cross_device_link);
        CHECK_FALSE(files.open("/etc/passwd", O_RDONLY, error));
        CHECK(error == std::errc::cross_device_link);
        if (resolver == FileRoot::Resolver::automatic) {  // the fallback sees the resolved path only
            CHECK_FALSE(files.open("../" + outside.path().filename().string() + "/secret", O_RDONLY, error));
        }
        CHECK_FALSE(files.open("missing", O_RDONLY, error));
        CHECK(error == std::errc::no_such_file_or_directory);
        auto created = files.open("sub/new.txt", O_WRONLY | O_CREAT | O_EXCL, error, 0640);
        REQUIRE(created);
        struct stat status {};
        REQUIRE(::fstat(created.get(), &status) == 0);
        CHECK((status.st_mode & 0777) == (0640 & ~[] { const mode_t m = ::umask(0); ::umask(m); return m; }()));
        std::filesystem::remove(root / "sub" / "new.txt");
    }
    const FileRoot following(root.path(), true);
    std::error_code error;
    CHECK(following.open("out-link", O_RDONLY, error));
}

TEST_CASE("FileRoot on something that is not a directory throws with the path", "[file_root]") {
    CHECK_THROWS_WITH(FileRoot("/nonexistent/sockserv-root"), Catch::Contains("nonexistent"));
}
