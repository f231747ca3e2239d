#pragma once
// The chat wire protocol: text datagrams, UTF-8, one command per datagram.
//
//   client -> server      L NAME          join (answered OK, or ERR and the reason)
//                         C NAME TEXT     say TEXT to everyone else
//                         Q NAME          leave
//                         H NAME          heartbeat: still here (sent while idle)
//   server -> client      OK              joined
//                         ERR REASON      refused (a bad name, a full room, a message too long, ...)
//                         NAME joined | NAME: TEXT | NAME left | admin: TEXT
//
// Every server datagram ends in "\n" and one trailing "\n" (or "\r\n") of a client datagram is
// ignored, so `nc -u HOST PORT` is a usable client. Pure functions: no sockets, no state.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace chat {

/// Longest name, in bytes (the room stores names inline, in shared memory).
constexpr std::size_t max_name_bytes = 32;

struct Login { std::string_view name; };
struct Say { std::string_view name; std::string_view text; };
struct Quit { std::string_view name; };
struct Heartbeat { std::string_view name; };
/// Not a command: the reason goes back to the sender as ERR REASON.
struct Malformed { std::string reason; };

using Command = std::variant<Malformed, Login, Say, Quit, Heartbeat>;

/// Parses one datagram. Anything that is not a well-formed command — empty, not UTF-8, an unknown
/// letter, a bad name, a missing or oversized text, control characters — is Malformed with the
/// reason. The views point into `datagram`.
Command parse(std::string_view datagram, std::size_t max_message_bytes);

/// Why `name` cannot be a member's name, or nullopt when it can: empty, too long, not UTF-8,
/// control characters, spaces, or reserved ("admin", "OK", "ERR": they would read as the server).
std::optional<std::string> name_problem(std::string_view name);
/// Why `text` cannot be relayed, or nullopt: empty, too long, not UTF-8, or control characters
/// (which would let a sender forge lines or drive other members' terminals).
std::optional<std::string> text_problem(std::string_view text, std::size_t max_message_bytes);

// Server -> client.
std::string ok();
std::string refusal(std::string_view reason);
std::string joined(std::string_view name);
std::string said(std::string_view name, std::string_view text);
std::string left(std::string_view name);
std::string announcement(std::string_view text);

// Client -> server.
std::string login(std::string_view name);
std::string say(std::string_view name, std::string_view text);
std::string quit(std::string_view name);
std::string heartbeat(std::string_view name);

/// A server datagram without its trailing newline, control characters shown as '?': safe to print.
std::string displayable(std::string_view datagram);

}  // namespace chat
