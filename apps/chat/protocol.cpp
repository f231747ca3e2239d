#include "protocol.hpp"


namespace chat {

namespace {

std::string_view without_newline(std::string_view datagram) {
    if (datagram.ends_with("\r\n")) datagram.remove_suffix(2);
    else if (datagram.ends_with('\n')) datagram.remove_suffix(1);
    return datagram;
}

std::string line(std::string_view a, std::string_view b = {}, std::string_view c = {}) {
    std::string out;
    out.reserve(a.size() + b.size() + c.size() + 1);
    out.append(a).append(b).append(c).push_back('\n');
    return out;
}

}  // namespace

bool is_valid_utf8(std::string_view text) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        const unsigned char c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        std::size_t length = 0;
        char32_t code = 0, min = 0;
        if ((c & 0xE0) == 0xC0) length = 2, code = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) length = 3, code = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) length = 4, code = c & 0x07, min = 0x10000;
        else return false;  // a continuation byte first, or 0xF8..0xFF
        if (static_cast<std::size_t>(end - p) < length) return false;  // cut short
        for (std::size_t i = 1; i < length; ++i) {
            if ((p[i] & 0xC0) != 0x80) return false;
            code = (code << 6) | (p[i] & 0x3F);
        }
        // Overlong forms, surrogates and beyond U+10FFFF are invalid UTF-8 (RFC 3629).
        if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
        p += length;
    }
    return true;
}

namespace {
// Bytes of the control character starting at text[i]: C0 except tab, DEL (1), or a C1 control
// U+0080..U+009F, which UTF-8 spells 0xC2 0x80..0x9F (2). 0 for anything else.
std::size_t control_at(std::string_view text, std::size_t i) noexcept {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7F) return 1;
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9F) return 2;
    return 0;
}
}  // namespace

bool has_control_characters(std::string_view text) noexcept {
    for (std::size_t i = 0; i < text.size(); ++i)
        if (control_at(text, i) > 0) return true;
    return false;
}

std::optional<std::string> name_problem(std::string_view name) {
    if (name.empty()) return "name is empty";
    if (name.size() > max_name_bytes) return "name is too long (max " + std::to_string(max_name_bytes) + " bytes)";
    if (!is_valid_utf8(name)) return "name is not valid UTF-8";
    if (has_control_characters(name) || name.find('\t') != std::string_view::npos)
        return "name has control characters";
    if (name.find(' ') != std::string_view::npos) return "name has spaces";
    for (const std::string_view reserved : {"admin", "OK", "ERR"})
        if (name == reserved) return "name is reserved";
    return std::nullopt;
}

std::optional<std::string> text_problem(std::string_view text, std::size_t max_message_bytes) {
    if (text.empty()) return "missing text";
    if (text.size() > max_message_bytes)
        return "message too long (max " + std::to_string(max_message_bytes) + " bytes)";
    if (!is_valid_utf8(text)) return "message is not valid UTF-8";
    if (has_control_characters(text)) return "message has control characters";
    return std::nullopt;
}

Command parse(std::string_view datagram, std::size_t max_message_bytes) {
    if (datagram.empty()) return Malformed{"empty datagram"};
    datagram = without_newline(datagram);
    if (datagram.empty()) return Malformed{"empty command"};
    if (!is_valid_utf8(datagram)) return Malformed{"not valid UTF-8"};
    const char letter = datagram[0];
    if (letter != 'L' && letter != 'C' && letter != 'Q' && letter != 'H')
        return Malformed{"unknown command (expected L, C, Q or H)"};
    if (datagram.size() == 1) return Malformed{"missing name"};
    if (datagram[1] != ' ') return Malformed{"unknown command (expected L, C, Q or H)"};
    const std::string_view rest = datagram.substr(2);

    if (letter == 'C') {
        const auto space = rest.find(' ');
        const std::string_view name = rest.substr(0, space);
        if (auto problem = name_problem(name)) return Malformed{name.empty() ? "missing name" : *problem};
        if (space == std::string_view::npos) return Malformed{"missing text"};
        const std::string_view text = rest.substr(space + 1);
        if (auto problem = text_problem(text, max_message_bytes)) return Malformed{*problem};
        return Say{name, text};
    }
    // L, Q, H: the rest is the name (a space in it is a bad name, not extra arguments).
    if (rest.empty()) return Malformed{"missing name"};
    if (auto problem = name_problem(rest)) return Malformed{*problem};
    if (letter == 'L') return Login{rest};
    if (letter == 'Q') return Quit{rest};
    return Heartbeat{rest};
}

std::string ok() { return line("OK"); }
std::string refusal(std::string_view reason) { return line("ERR ", reason); }
std::string joined(std::string_view name) { return line(name, " joined"); }
std::string said(std::string_view name, std::string_view text) { return line(name, ": ", text); }
std::string left(std::string_view name) { return line(name, " left"); }
std::string announcement(std::string_view text) { return line("admin: ", text); }

std::string login(std::string_view name) { return std::string("L ").append(name); }
std::string say(std::string_view name, std::string_view text) {
    return std::string("C ").append(name).append(" ").append(text);
}
std::string quit(std::string_view name) { return std::string("Q ").append(name); }
std::string heartbeat(std::string_view name) { return std::string("H ").append(name); }

std::string displayable(std::string_view datagram) {
    datagram = without_newline(datagram);
    std::string out(datagram);
    if (!is_valid_utf8(out)) {
        for (char& c : out)
            if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
    for (std::size_t i = 0; i < out.size(); ++i)
        for (std::size_t n = control_at(out, i); n > 0; --n) out[i + n - 1] = '?';
    return out;
}

}  // namespace chat
