// Ranges, HTTP dates and entity tags: the pure parts of 206, 416 and 304.

#include "ranges.hpp"
#include "validators.hpp"

#include <catch2/catch.hpp>

using namespace http_app;

namespace {
ByteRange range_of(std::string_view header, std::uint64_t size) {
    const RangeRequest parsed = parse_range(header, size);
    REQUIRE(std::holds_alternative<ByteRange>(parsed));
    return std::get<ByteRange>(parsed);
}
bool whole(std::string_view header, std::uint64_t size) {
    return std::holds_alternative<WholeFile>(parse_range(header, size));
}
bool unsatisfiable(std::string_view header, std::uint64_t size) {
    return std::holds_alternative<Unsatisfiable>(parse_range(header, size));
}
}  // namespace

TEST_CASE("parse_range reads the three forms of a single byte range", "[http][range]") {
    CHECK(range_of("bytes=0-99", 1000) == ByteRange{0, 99});
    CHECK(range_of("bytes=500-", 1000) == ByteRange{500, 999});
    CHECK(range_of("bytes=-200", 1000) == ByteRange{800, 999});
    CHECK(range_of("bytes=990-5000", 1000) == ByteRange{990, 999});  // clamped to the end
    CHECK(range_of("bytes=-5000", 1000) == ByteRange{0, 999});       // suffix longer than the file
    CHECK(range_of("Bytes=1-1 ", 1000) == ByteRange{1, 1});
    CHECK(range_of("bytes=999-999", 1000).length() == 1);
}

TEST_CASE("parse_range refuses ranges outside the file with 416", "[http][range]") {
    CHECK(unsatisfiable("bytes=1000-", 1000));
    CHECK(unsatisfiable("bytes=1000-2000", 1000));
    CHECK(unsatisfiable("bytes=-0", 1000));
    CHECK(unsatisfiable("bytes=0-", 0));
    CHECK(unsatisfiable("bytes=-1", 0));
}

TEST_CASE("parse_range ignores malformed - foreign and multiple ranges", "[http][range]") {
    for (const char* header : {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "bytes=0-1,5-x", "bytes=,",
                               "items=0-1", "bytes=--1", "bytes=+1-2", "bytes=1-+2", "bytes=0x10-20",
                               "bytes=99999999999999999999999-", "bytes=1 2-3", "bytes=\x01-\x02"}) {
        INFO(header);
        CHECK(whole(header, 1000));
    }
}

TEST_CASE("parse_range reads lists of ranges, coalescing what overlaps or touches", "[http][range]") {
    const auto parts = [](std::string_view header, std::uint64_t size) {
        const RangeRequest parsed = parse_range(header, size);
        REQUIRE(std::holds_alternative<ByteRanges>(parsed));
        return std::get<ByteRanges>(parsed).parts;
    };
    CHECK(parts("bytes=0-0,5-9", 1000) == std::vector<ByteRange>{{0, 0}, {5, 9}});
    CHECK(parts("bytes=500-599, -100 ,0-99", 1000) == std::vector<ByteRange>{{0, 99}, {500, 599}, {900, 999}});
    CHECK(parts("bytes=0-10,5-20,30-40", 1000) == std::vector<ByteRange>{{0, 20}, {30, 40}});  // overlap
    CHECK(range_of("bytes=0-9,10-19", 1000) == ByteRange{0, 19});   // touching: one range, no multipart
    CHECK(range_of("bytes=0-99,50-60", 1000) == ByteRange{0, 99});  // contained
    CHECK(range_of("bytes=0-1,2000-3000", 1000) == ByteRange{0, 1});  // one outside the file: dropped
    CHECK(unsatisfiable("bytes=2000-,3000-", 1000));                  // all outside
    CHECK(parts("bytes=1-1,,3-3,", 10).size() == 2);                 // empty list elements
    // The cap: max_ranges ranges are served, one more and the header is ignored.
    std::string many = "bytes=0-0";
    for (std::size_t i = 1; i < max_ranges; ++i) many += "," + std::to_string(2 * i) + "-" + std::to_string(2 * i);
    CHECK(parts(many, 1000).size() == max_ranges);
    CHECK(whole(many + ",999-999", 1000));
    // The same byte asked for a thousand times is one range, not a thousand (Apache's CVE-2011-3192).
    std::string same = "bytes=0-";
    for (int i = 0; i < 99; ++i) same += ",0-";
    CHECK(range_of(same, 1000) == ByteRange{0, 999});
}

TEST_CASE("HTTP dates format as IMF-fixdate and parse in all three forms", "[http][date]") {
    CHECK(format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
    CHECK_FALSE(parse_http_date(""));
    CHECK_FALSE(parse_http_date("yesterday"));
    CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT trailing"));
    CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49"));
    CHECK(current_http_date().ends_with(" GMT"));
}

TEST_CASE("weak ETags match If-None-Match by weak comparison", "[http][etag]") {
    struct stat file {};
    file.st_size = 1234;
    file.st_mtim.tv_sec = 1700000000;
    file.st_mtim.tv_nsec = 5;
    const std::string etag = weak_etag(file);
    CHECK(etag.starts_with("W/\""));
    CHECK(none_match_hits(etag, etag));
    CHECK(none_match_hits(etag.substr(2), etag));  // the strong spelling matches weakly
    CHECK(none_match_hits("\"other\", " + etag, etag));
    CHECK(none_match_hits(" * ", etag));
    CHECK_FALSE(none_match_hits("\"other\"", etag));
    CHECK_FALSE(none_match_hits("", etag));
    file.st_size = 1235;
    CHECK(weak_etag(file) != etag);
}

TEST_CASE("If-Range holds only for the exact Last-Modified date", "[http][etag]") {
    CHECK(if_range_holds("Sun, 06 Nov 1994 08:49:37 GMT", 784111777));
    CHECK_FALSE(if_range_holds("Sun, 06 Nov 1994 08:49:38 GMT", 784111777));
    CHECK_FALSE(if_range_holds("W/\"1-2\"", 784111777));
    CHECK_FALSE(if_range_holds("\"strong\"", 784111777));
}
