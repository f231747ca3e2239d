// A payload on a Redis room's channel (node_messages.hpp): anyone who can PUBLISH there can send one.

#include "fuzz_check.hpp"
#include "node_messages.hpp"
#include "protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view payload(reinterpret_cast<const char*>(data), size);
    const auto decoded = chat::nodes::decode(payload);
    if (const auto* error = std::get_if<std::string>(&decoded)) {
        FUZZ_CHECK(!error->empty());
        return 0;
    }
    const auto& message = std::get<chat::nodes::Message>(decoded);
    // Whatever was accepted is what a chat_server would send: names and texts a member could use,
    // so relaying it cannot forge lines; and it encodes back to a payload that decodes the same.
    std::string records;
    for (const chat::nodes::Record& record : message.records) {
        if (const auto* said = std::get_if<chat::nodes::Said>(&record))
            FUZZ_CHECK(!chat::name_problem(said->name) && !chat::text_problem(said->text, chat::nodes::max_text_bytes));
        records += chat::nodes::encode(record);
    }
    const auto again = chat::nodes::decode(chat::nodes::payload(message.node, records));
    const auto* same = std::get_if<chat::nodes::Message>(&again);
    FUZZ_CHECK(same && same->node == message.node && same->records.size() == message.records.size());
    std::string records_again;
    for (const chat::nodes::Record& record : same->records) records_again += chat::nodes::encode(record);
    FUZZ_CHECK(records_again == records);
    return 0;
}
