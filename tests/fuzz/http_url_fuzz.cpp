// A request target: split into path and query, percent-decoded, and resolved to a path below the
// served folder.

#include "fuzz_check.hpp"
#include "url.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view target(reinterpret_cast<const char*>(data), size);

    const std::string decoded = http_app::percent_decode(target);
    FUZZ_CHECK(decoded.size() <= target.size());
    // Whatever was decoded encodes back to something that decodes to it again.
    FUZZ_CHECK(http_app::percent_decode(http_app::percent_encode(decoded)) == decoded);
    const std::string escaped = http_app::html_escape(target);
    FUZZ_CHECK(escaped.find_first_of("<>\"'") == std::string::npos);

    if (const auto split = http_app::split_target(target)) {
        FUZZ_CHECK(split->path.size() + split->query.size() <= target.size());
        if (const auto local = http_app::translate_path(split->path)) {
            // Never absolute, never a step up or a NUL: the path stays inside the served folder.
            const std::string& relative = local->relative;
            FUZZ_CHECK(relative.empty() || relative.front() != '/');
            FUZZ_CHECK(relative.find('\0') == std::string::npos);
            std::string_view rest = relative;
            while (!rest.empty()) {
                const auto slash = rest.find('/');
                const std::string_view word = rest.substr(0, slash);
                FUZZ_CHECK(!word.empty() && word != "." && word != "..");
                rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
            }
        }
    }
    return 0;
}
