#include "ranges.hpp"

#include <sockserv/base/text.hpp>

#include <algorithm>
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

// One range-spec: a range inside the file, Unsatisfiable for one outside it, WholeFile for bad syntax.
std::variant<ByteRange, Unsatisfiable, WholeFile> parse_one(std::string_view spec, std::uint64_t size) {
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

}  // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
    header = sockserv::trim_blanks(header);
    constexpr std::string_view unit = "bytes=";
    if (header.size() < unit.size()) return WholeFile{};
    for (std::size_t i = 0; i < unit.size(); ++i)
        if ((header[i] | 0x20) != unit[i] && header[i] != unit[i]) return WholeFile{};
    std::string_view set = header.substr(unit.size());

    std::vector<ByteRange> ranges;
    std::size_t specs = 0;
    for (;;) {
        const auto comma = set.find(',');
        const std::string_view spec = sockserv::trim_blanks(set.substr(0, comma));
        if (!spec.empty()) {  // a list may hold empty elements (RFC 9110 5.6.1)
            if (++specs > max_ranges) return WholeFile{};
            const auto one = parse_one(spec, size);
            if (std::holds_alternative<WholeFile>(one)) return WholeFile{};
            if (const auto* range = std::get_if<ByteRange>(&one)) ranges.push_back(*range);
        }
        if (comma == std::string_view::npos) break;
        set.remove_prefix(comma + 1);
    }
    if (specs == 0) return WholeFile{};
    if (ranges.empty()) return Unsatisfiable{};
    std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) { return a.first < b.first; });
    std::vector<ByteRange> merged{ranges.front()};
    for (std::size_t i = 1; i < ranges.size(); ++i) {
        if (ranges[i].first <= merged.back().last + 1) merged.back().last = std::max(merged.back().last, ranges[i].last);
        else merged.push_back(ranges[i]);
    }
    if (merged.size() == 1) return merged.front();
    return ByteRanges{std::move(merged)};
}

}  // namespace http_app
