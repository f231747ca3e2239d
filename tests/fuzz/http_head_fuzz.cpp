// The HTTP request head as a client sends it: scanned for its end and limits, then parsed.

#include "fuzz_check.hpp"
#include "request_head.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view received(reinterpret_cast<const char*>(data), size);
    // Small limits too, so the fuzzer reaches every "too long" branch with short inputs.
    for (const http_app::HeadLimits& limits : {http_app::HeadLimits{}, http_app::HeadLimits{64, 48, 4, 256}}) {
        const http_app::HeadScan scan = http_app::scan_head(received, limits);
        FUZZ_CHECK(scan.size <= received.size());
        if (scan.state != http_app::HeadScan::complete) continue;
        FUZZ_CHECK(scan.size <= limits.head);
        const auto parsed = http_app::parse_head(received.substr(0, scan.size));
        if (const auto* head = std::get_if<http_app::RequestHead>(&parsed)) {
            FUZZ_CHECK(!head->method.empty());
            FUZZ_CHECK(!head->target.empty());
            FUZZ_CHECK(head->version == 10 || head->version == 11);
        } else {
            const auto& bad = std::get<http_app::BadRequest>(parsed);
            FUZZ_CHECK(bad.status == 400 || bad.status == 505 || bad.status == 501 || bad.status == 414 || bad.status == 431);
            FUZZ_CHECK(!bad.message.empty());
        }
    }
    const std::string_view line = http_app::first_line(received, 64);
    FUZZ_CHECK(line.size() <= 64);
    return 0;
}
