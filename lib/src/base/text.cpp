#include <sockserv/base/text.hpp>

namespace sockserv {

namespace {

// Length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes there are not one.
std::size_t utf8_sequence_at(const unsigned char* p, const unsigned char* end) noexcept {
    const unsigned char c = *p;
    if (c < 0x80) return 1;
    std::size_t length = 0;
    char32_t code = 0, min = 0;
    if ((c & 0xE0) == 0xC0) length = 2, code = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) length = 3, code = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) length = 4, code = c & 0x07, min = 0x10000;
    else return 0;  // a continuation byte first, or 0xF8..0xFF
    if (static_cast<std::size_t>(end - p) < length) return 0;  // cut short
    for (std::size_t i = 1; i < length; ++i) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        code = (code << 6) | (p[i] & 0x3F);
    }
    // Overlong forms, surrogates and beyond U+10FFFF are invalid UTF-8 (RFC 3629).
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
    return length;
}

}  // namespace

bool is_valid_utf8(std::string_view text) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        const std::size_t length = utf8_sequence_at(p, end);
        if (length == 0) return false;
        p += length;
    }
    return true;
}

std::size_t control_at(std::string_view text, std::size_t i) noexcept {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7F) return 1;
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9F &&
        static_cast<unsigned char>(text[i + 1]) >= 0x80)
        return 2;
    return 0;
}

bool has_control_characters(std::string_view text) noexcept {
    for (std::size_t i = 0; i < text.size(); ++i)
        if (control_at(text, i) > 0) return true;
    return false;
}

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool ascii_iequal(std::string_view a, std::string_view b) noexcept {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view trim_blanks(std::string_view text) noexcept {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

std::string escape_control_characters(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    append_escaped(out, text);
    return out;
}

void append_escaped(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = begin + text.size();
    for (const auto* p = begin; p < end;) {
        // A run of printable ASCII, all of an ordinary request line, is copied at once.
        const auto* run = p;
        while (run < end && *run >= 0x20 && *run < 0x7f && *run != '\\') ++run;
        if (run != p) {
            out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(run - p));
            p = run;
            continue;
        }
        const std::size_t i = static_cast<std::size_t>(p - begin);
        const std::size_t control = *p == '\t' ? 1 : control_at(text, i);
        const std::size_t length = control > 0 ? 0 : utf8_sequence_at(p, end);
        if (*p == '\\') {
            out.append("\\\\");
            ++p;
        } else if (length > 0) {
            out.append(reinterpret_cast<const char*>(p), length);
            p += length;
        } else {
            // Escape one byte at a time: a C1 control is two bytes, and both are shown.
            const std::size_t count = control > 0 ? control : 1;
            for (std::size_t k = 0; k < count; ++k, ++p)
                out.append("\\x").append(1, hex[*p >> 4]).append(1, hex[*p & 0xF]);
        }
    }
}

}  // namespace sockserv
