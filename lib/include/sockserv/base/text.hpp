#pragma once
// Text that came off the network, made safe to check and to show: UTF-8 validation and control
// characters. A log line or a relayed message must never carry bytes that drive the reader's
// terminal (an ESC sequence can rewrite the screen, a CR or newline can forge a line).

#include <cstddef>
#include <string>
#include <string_view>

namespace sockserv {

/// Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates, code points past U+10FFFF, or
/// sequences cut short.
bool is_valid_utf8(std::string_view text) noexcept;

/// Bytes of the control character starting at text[i]: 1 for C0 (except tab) and DEL, 2 for a C1
/// control (U+0080..U+009F, which UTF-8 spells 0xC2 0x80..0x9F), 0 for anything else.
std::size_t control_at(std::string_view text, std::size_t i) noexcept;

/// True when control_at() finds one anywhere.
bool has_control_characters(std::string_view text) noexcept;

/// ASCII letters lower-cased, every other byte as it is (protocol tokens: option names, modes,
/// file extensions).
std::string ascii_lower(std::string_view text);
/// a and b equal but for the case of ASCII letters (a header name, a TFTP mode); allocates nothing.
bool ascii_iequal(std::string_view a, std::string_view b) noexcept;

/// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
std::string_view trim_blanks(std::string_view text) noexcept;

/// The text with every control character (tab included), every C1 control and every byte that is
/// not part of valid UTF-8 written as \xNN, and backslash itself as \\: printable, one line, and
/// still telling exactly which bytes came in. Valid UTF-8 text passes through unchanged.
std::string escape_control_characters(std::string_view text);
/// The same, appended to out (a log line built in one string).
void append_escaped(std::string& out, std::string_view text);

}  // namespace sockserv
