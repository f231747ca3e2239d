// The HTTP request head as a client sends it: scanned for its end and limits, then parsed; and
// the server's own head syntax held to Boost.Beast's parser, verdict for verdict and field for
// field, on every head (any bytes through their first CRLF CRLF).

#include "beast_head_syntax.hpp"
#include "fuzz_check.hpp"
#include "request_head.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

namespace {
void check_same_syntax(std::string_view head) {
    const http_app::HeadSyntax ours = http_app::parse_head_syntax(head);
    FUZZ_CHECK(http_app::reference::syntax_difference(ours, http_app::reference::beast_head_syntax(head)).empty());
    if (ours.error != http_app::HeadSyntax::none) return;
    // A head the syntax accepts has a line starting with whitespace only where a value was folded.
    bool folded = false;
    for (std::size_t at = head.find("\r\n"); at != std::string_view::npos && at + 2 < head.size(); at = head.find("\r\n", at + 2))
        folded = folded || head[at + 2] == ' ' || head[at + 2] == '\t';
    FUZZ_CHECK(ours.obs_fold == folded);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view received(reinterpret_cast<const char*>(data), size);
    if (const auto end = received.find("\r\n\r\n"); end != std::string_view::npos)
        check_same_syntax(received.substr(0, end + 4));
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
