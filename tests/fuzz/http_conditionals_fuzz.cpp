// Range, If-Range, If-None-Match and If-Modified-Since as a client sends them. The first 8 bytes
// pick the file's size, the rest is the header value.

#include "fuzz_check.hpp"
#include "ranges.hpp"
#include "validators.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::uint64_t file_size = 0;
    if (size >= sizeof file_size) {
        std::memcpy(&file_size, data, sizeof file_size);
        data += sizeof file_size;
        size -= sizeof file_size;
    }
    file_size >>= file_size & 63;  // small sizes too, where most ranges are unsatisfiable
    const std::string_view header(reinterpret_cast<const char*>(data), size);

    const http_app::RangeRequest ranges = http_app::parse_range(header, file_size);
    if (const auto* one = std::get_if<http_app::ByteRange>(&ranges)) {
        FUZZ_CHECK(one->first <= one->last && one->last < file_size);
    } else if (const auto* many = std::get_if<http_app::ByteRanges>(&ranges)) {
        FUZZ_CHECK(many->parts.size() >= 2 && many->parts.size() <= http_app::max_ranges);
        for (const auto& part : many->parts) FUZZ_CHECK(part.first <= part.last && part.last < file_size);
    } else if (std::holds_alternative<http_app::Unsatisfiable>(ranges)) {
        FUZZ_CHECK(header.size() > 0);
    }

    if (const auto date = http_app::parse_http_date(header)) {
        // A date we read we can write, and reading what we wrote gives the same instant.
        FUZZ_CHECK(http_app::parse_http_date(http_app::format_http_date(*date)) == date);
    }
    (void)http_app::none_match_hits(header, "W/\"1f-5e8f0c3a\"");
    (void)http_app::if_range_holds(header, static_cast<std::time_t>(file_size & 0xFFFFFFFF));
    return 0;
}
