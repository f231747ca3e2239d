#pragma once
// What chat servers sharing one room (redis_room.hpp) tell each other: one payload per PUBLISH on
// the room's channel, text, one record per line after the sending node's id:
//
//   <node id, 16 hex digits>
//   J NAME            NAME joined on the sender
//   L NAME            NAME left the sender (quit, or silent for too long)
//   C NAME TEXT       NAME said TEXT
//   A TEXT            the sender's admin announced TEXT
//   R [+|?]NAME...    the sender's roster, sent every roster interval: '+' a member whose join
//                     has come back through the channel (confirmed), '?' one not yet
//
// Names and texts obey the client protocol's rules (no spaces in names, no control characters
// anywhere), so a line break can only end a record. Anyone who can PUBLISH on the Redis server can
// send these: decode() checks everything as it would a client's datagram. Pure functions.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace chat::nodes {

struct Joined { std::string name; };
struct Left { std::string name; };
struct Said { std::string name; std::string text; };
struct Announced { std::string text; };
struct Roster {
    struct Entry {
        std::string name;
        bool confirmed;
        friend bool operator==(const Entry&, const Entry&) = default;
    };
    std::vector<Entry> members;
};
using Record = std::variant<Joined, Left, Said, Announced, Roster>;

/// One record's line, with its newline.
std::string encode(const Record& record);
/// A node id as payloads carry it: 16 hex digits.
std::string node_text(std::uint64_t node);
/// A payload: the node's id line, then the lines encode() made.
std::string payload(std::uint64_t node, std::string_view records);

struct Message {
    std::uint64_t node = 0;
    std::vector<Record> records;
};
/// The whole payload, or the reason it is not one (nothing of a bad payload is used: a record
/// that does not parse makes the sender suspect).
std::variant<Message, std::string> decode(std::string_view payload);

/// The longest text a record may carry: the client protocol's own limit, whatever this node's
/// --max-message (a node with a larger limit is not cut off; its lines fit a datagram).
constexpr std::size_t max_text_bytes = 60000;

}  // namespace chat::nodes
