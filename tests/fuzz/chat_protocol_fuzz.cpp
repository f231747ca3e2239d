// A chat datagram as a member sends it, and what the console shows of a datagram it receives.

#include "fuzz_check.hpp"
#include "protocol.hpp"

#include <sockserv/base/text.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view datagram(reinterpret_cast<const char*>(data), size);
    for (const std::size_t max_message_bytes : {std::size_t{16}, std::size_t{1024}}) {
        const chat::Command command = chat::parse(datagram, max_message_bytes);
        if (const auto* say = std::get_if<chat::Say>(&command)) {
            FUZZ_CHECK(!chat::name_problem(say->name) && !chat::text_problem(say->text, max_message_bytes));
            // What the room sends on is one line, and what was said parses back the same.
            const std::string line = chat::said(say->name, say->text);
            FUZZ_CHECK(line.find('\n') == line.size() - 1);
            const std::string sent = chat::say(say->name, say->text);  // the views point into it
            const chat::Command again = chat::parse(sent, max_message_bytes);
            const auto* same = std::get_if<chat::Say>(&again);
            FUZZ_CHECK(same && same->name == say->name && same->text == say->text);
        } else if (const auto* login = std::get_if<chat::Login>(&command)) {
            FUZZ_CHECK(!chat::name_problem(login->name));
            FUZZ_CHECK(chat::joined(login->name).find('\n') == chat::joined(login->name).size() - 1);
        } else if (const auto* quit = std::get_if<chat::Quit>(&command)) {
            FUZZ_CHECK(!chat::name_problem(quit->name));
        } else if (const auto* heartbeat = std::get_if<chat::Heartbeat>(&command)) {
            FUZZ_CHECK(!chat::name_problem(heartbeat->name));
        } else {
            FUZZ_CHECK(!std::get<chat::Malformed>(command).reason.empty());
        }
    }
    // The console prints a received datagram as is: it must be safe for a terminal.
    const std::string shown = chat::displayable(datagram);
    FUZZ_CHECK(sockserv::is_valid_utf8(shown));
    FUZZ_CHECK(!sockserv::has_control_characters(shown));
    return 0;
}
