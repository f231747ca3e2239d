// The file-root policy both protocols share: names, reads, atomic uploads, the listing.

#include "files.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

using namespace tftp;

namespace {
std::vector<std::string> names_in(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
}
}  // namespace

TEST_CASE("names are refused rather than repaired", "[tftp][files]") {
    for (const char* good : {"file.bin", "dir/file.bin", "a..b", "..hidden", ".profile", "caf\xc3\xa9"}) {
        INFO(good);
        CHECK_FALSE(name_problem(good));
    }
    for (const std::string& bad : std::vector<std::string>{"", "/etc/passwd", "../secret", "dir/../../x", "..", "a\\b", "..\\x", "a\nb",
                                  "a\x1b[2J", "bad\xff", ".x.part-0123", std::string(2000, 'a')}) {
        INFO(bad);
        CHECK(name_problem(bad));
    }
}

TEST_CASE("reads serve regular files under the root and nothing else", "[tftp][files]") {
    test::TempDir root, outside;
    std::ofstream(root / "a.txt") << "a";
    std::filesystem::create_directories(root / "dir");
    std::ofstream(outside / "secret") << "secret";
    std::filesystem::create_symlink(outside / "secret", root / "leak");
    REQUIRE(::mkfifo((root / "fifo").c_str(), 0600) == 0);
    const Files files(root.path(), {});
    CHECK(std::get<Files::Download>(files.open_for_read("a.txt")).size == 1);
    CHECK(std::get<Refusal>(files.open_for_read("missing")).code == 1);
    CHECK(std::get<Refusal>(files.open_for_read("dir")).code == 2);
    CHECK(std::get<Refusal>(files.open_for_read("fifo")).code == 2);
    CHECK(std::get<Refusal>(files.open_for_read("leak")).code == 2);
    CHECK(std::get<Refusal>(files.open_for_read("../" + outside.path().filename().string() + "/secret")).code == 2);
    CHECK(std::get<Refusal>(files.open_for_read("/etc/passwd")).code == 2);
}

TEST_CASE("uploads follow the policy and land atomically", "[tftp][files]") {
    test::TempDir root, outside;
    std::ofstream(root / "old.txt") << "old";
    std::filesystem::create_symlink(outside.path() / "target", root / "out-link");

    CHECK(std::get<Refusal>(Files(root.path(), {}).begin_upload("new.txt")).code == 2);  // uploads off
    const Files no_create(root.path(), {true, false, true});
    CHECK(std::get<Refusal>(no_create.begin_upload("new.txt")).code == 2);
    CHECK(std::holds_alternative<Upload>(no_create.begin_upload("old.txt")));
    const Files no_overwrite(root.path(), {true, true, false});
    CHECK(std::get<Refusal>(no_overwrite.begin_upload("old.txt")).code == 6);
    const Files open(root.path(), {true, true, true});
    CHECK(std::get<Refusal>(open.begin_upload("out-link")).code == 2);
    CHECK(std::get<Refusal>(open.begin_upload("../escape")).code == 2);
    CHECK(std::get<Refusal>(open.begin_upload("missing-dir/x")).code == 1);

    {
        auto upload = std::get<Upload>(open.begin_upload("new.txt"));
        upload.write("half");
        CHECK_FALSE(std::filesystem::exists(root / "new.txt"));  // nothing under the name until commit
    }  // abandoned
    CHECK(names_in(root.path()) == std::vector<std::string>{"old.txt", "out-link"});  // no temporary left
    {
        auto upload = std::get<Upload>(open.begin_upload("old.txt"));
        upload.write("replaced");
        CHECK(test::read_file(root / "old.txt") == "old");
        upload.commit();
    }
    CHECK(test::read_file(root / "old.txt") == "replaced");
    {
        auto racing = std::get<Upload>(no_overwrite.begin_upload("race.txt"));
        std::ofstream(root / "race.txt") << "first";  // appears while the upload runs
        racing.write("second");
        CHECK_THROWS_AS(racing.commit(), ProtocolError);
    }
    CHECK(test::read_file(root / "race.txt") == "first");
}

TEST_CASE("the listing shows regular files with sizes and hides uploads in progress", "[tftp][files]") {
    test::TempDir root;
    std::ofstream(root / "b.bin") << "12345";
    std::ofstream(root / "a.txt") << "1";
    std::filesystem::create_directories(root / "dir");
    std::filesystem::create_symlink("a.txt", root / "link");
    const Files files(root.path(), {true, true, true});
    auto upload = std::get<Upload>(files.begin_upload("c.bin"));
    const auto listing = files.list();
    CHECK(listing == std::vector<std::pair<std::string, std::uint64_t>>{{"a.txt", 1}, {"b.bin", 5}});
}
