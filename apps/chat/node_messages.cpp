#include "node_messages.hpp"

#include "protocol.hpp"

#include <charconv>
#include <optional>

namespace chat::nodes {

namespace {

template <class... F> struct Overloaded : F... { using F::operator()...; };
template <class... F> Overloaded(F...) -> Overloaded<F...>;

std::string_view next_line(std::string_view& rest) {
    const auto end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    return line;
}

std::optional<std::string> checked_name(std::string_view name) {
    if (name_problem(name)) return std::nullopt;
    return std::string(name);
}

std::optional<Record> decode_record(std::string_view line) {
    if (line == "R") return Roster{};  // a node with no members
    if (line.size() < 2 || line[1] != ' ') return std::nullopt;
    const char kind = line[0];
    std::string_view rest = line.substr(2);
    switch (kind) {
    case 'J':
    case 'L': {
        auto name = checked_name(rest);
        if (!name) return std::nullopt;
        if (kind == 'J') return Joined{std::move(*name)};
        return Left{std::move(*name)};
    }
    case 'C': {
        const auto space = rest.find(' ');
        if (space == std::string_view::npos) return std::nullopt;
        auto name = checked_name(rest.substr(0, space));
        const std::string_view text = rest.substr(space + 1);
        if (!name || text_problem(text, max_text_bytes)) return std::nullopt;
        return Said{std::move(*name), std::string(text)};
    }
    case 'A':
        if (text_problem(rest, max_text_bytes)) return std::nullopt;
        return Announced{std::string(rest)};
    case 'R': {
        Roster roster;
        while (!rest.empty()) {
            const auto space = rest.find(' ');
            const std::string_view entry = rest.substr(0, space);
            rest.remove_prefix(space == std::string_view::npos ? rest.size() : space + 1);
            if (entry.size() < 2 || (entry[0] != '+' && entry[0] != '?')) return std::nullopt;
            auto name = checked_name(entry.substr(1));
            if (!name) return std::nullopt;
            roster.members.push_back({std::move(*name), entry[0] == '+'});
        }
        return roster;
    }
    default:
        return std::nullopt;
    }
}

}  // namespace

std::string encode(const Record& record) {
    return std::visit(Overloaded{
                          [](const Joined& r) { return std::string("J ").append(r.name).append("\n"); },
                          [](const Left& r) { return std::string("L ").append(r.name).append("\n"); },
                          [](const Said& r) { return std::string("C ").append(r.name).append(" ").append(r.text).append("\n"); },
                          [](const Announced& r) { return std::string("A ").append(r.text).append("\n"); },
                          [](const Roster& r) {
                              std::string line = "R";
                              for (const auto& entry : r.members) line.append(entry.confirmed ? " +" : " ?").append(entry.name);
                              return line.append("\n");
                          },
                      },
                      record);
}

std::string node_text(std::uint64_t node) {
    char id[16];
    const auto end = std::to_chars(id, id + sizeof id, node, 16).ptr;
    return std::string(static_cast<std::size_t>(16 - (end - id)), '0').append(id, end);
}

std::string payload(std::uint64_t node, std::string_view records) {
    return node_text(node).append("\n").append(records);
}

std::variant<Message, std::string> decode(std::string_view payload) {
    std::string_view rest = payload;
    const std::string_view id = next_line(rest);
    Message message;
    if (id.size() != 16) return std::string("no node id");
    const auto [end, error] = std::from_chars(id.data(), id.data() + id.size(), message.node, 16);
    if (error != std::errc() || end != id.data() + id.size()) return std::string("no node id");
    std::size_t number = 1;
    while (!rest.empty()) {
        const std::string_view line = next_line(rest);
        ++number;
        auto record = decode_record(line);
        if (!record) return "record " + std::to_string(number) + " is malformed";
        message.records.push_back(std::move(*record));
    }
    return message;
}

}  // namespace chat::nodes
