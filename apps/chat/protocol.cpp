#include "protocol.hpp"

#include <sockserv/base/text.hpp>

namespace chat {

using sockserv::control_at;
using sockserv::has_control_characters;
using sockserv::is_valid_utf8;

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
