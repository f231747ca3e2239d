#include "ranges.hpp"

#include <sockserv/text.hpp>

#include <charconv>
#include <optional>

namespace http_app {

namespace {

std::optional<std::uint64_t> number(std::string_view text) {
    std::uint64_t value = 0;
    if (text.empty()) return std::nullopt;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;  // sign, junk, overflow
    return value;
}

}  // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
    header = sockserv::trim_blanks(header);
    constexpr std::string_view unit = "bytes=";
    if (header.size() < unit.size()) return WholeFile{};
    for (std::size_t i = 0; i < unit.size(); ++i)
        if ((header[i] | 0x20) != unit[i] && header[i] != unit[i]) return WholeFile{};
    const std::string_view spec = sockserv::trim_blanks(header.substr(unit.size()));
    if (spec.find(',') != std::string_view::npos) return WholeFile{};
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return WholeFile{};
    const std::string_view first_text = sockserv::trim_blanks(spec.substr(0, dash));
    const std::string_view last_text = sockserv::trim_blanks(spec.substr(dash + 1));

    if (first_text.empty()) {  // suffix: the last N bytes
        const auto suffix = number(last_text);
        if (!suffix) return WholeFile{};
        if (*suffix == 0 || size == 0) return Unsatisfiable{};
        return ByteRange{*suffix >= size ? 0 : size - *suffix, size - 1};
    }
    const auto first = number(first_text);
    if (!first) return WholeFile{};
    std::uint64_t last = size == 0 ? 0 : size - 1;
    if (!last_text.empty()) {
        const auto given = number(last_text);
        if (!given || *given < *first) return WholeFile{};  // invalid: ignored, RFC 9110 14.1.1
        if (*given < last) last = *given;
    }
    if (*first >= size) return Unsatisfiable{};
    return ByteRange{*first, last};
}

}  // namespace http_app
