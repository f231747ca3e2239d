// A TFTP datagram as a client or a server sends it: parsed, negotiated (options), and written back.

#include "files.hpp"
#include "fuzz_check.hpp"
#include "options.hpp"
#include "packet.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

namespace {
bool same(const tftp::Packet& a, const tftp::Packet& b) {
    if (a.index() != b.index()) return false;
    if (const auto* x = std::get_if<tftp::Request>(&a)) {
        const auto& y = std::get<tftp::Request>(b);
        return x->write == y.write && x->filename == y.filename && x->mode == y.mode && x->options == y.options;
    }
    if (const auto* x = std::get_if<tftp::Data>(&a)) {
        const auto& y = std::get<tftp::Data>(b);
        return x->block == y.block && x->payload == y.payload;
    }
    if (const auto* x = std::get_if<tftp::Ack>(&a)) return x->block == std::get<tftp::Ack>(b).block;
    if (const auto* x = std::get_if<tftp::OptionAck>(&a)) return x->options == std::get<tftp::OptionAck>(b).options;
    return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view datagram(reinterpret_cast<const char*>(data), size);
    const tftp::Packet packet = tftp::parse(datagram);

    if (const auto* request = std::get_if<tftp::Request>(&packet)) {
        FUZZ_CHECK(!request->filename.empty() && !request->mode.empty());
        FUZZ_CHECK(same(tftp::parse(tftp::encode_request(*request)), packet));
        (void)tftp::name_problem(request->filename);
        (void)tftp::is_supported_mode(request->mode);
        // The server's answer to the options, for a small and a huge file.
        for (const std::uint64_t file_size : {std::uint64_t{0}, std::uint64_t{1} << 40}) {
            const tftp::Negotiation negotiation = tftp::negotiate(*request, file_size);
            const tftp::TransferOptions& options = negotiation.options;
            if (negotiation.refusal) continue;
            FUZZ_CHECK(options.blksize >= tftp::min_blksize && options.blksize <= tftp::max_blksize);
            FUZZ_CHECK(options.windowsize >= 1);
            FUZZ_CHECK(options.blksize * options.windowsize <= tftp::max_window_bytes ||
                       options.windowsize == 1);
            // What the server acknowledged is what a client that asked for it accepts.
            tftp::TransferOptions client;
            if (!negotiation.oack.empty())
                FUZZ_CHECK(!tftp::apply_oack(request->options, negotiation.oack, client));
        }
    } else if (const auto* data_packet = std::get_if<tftp::Data>(&packet)) {
        FUZZ_CHECK(same(tftp::parse(tftp::encode_data(data_packet->block, data_packet->payload)), packet));
    } else if (const auto* ack = std::get_if<tftp::Ack>(&packet)) {
        FUZZ_CHECK(same(tftp::parse(tftp::encode_ack(ack->block)), packet));
    } else if (const auto* oack = std::get_if<tftp::OptionAck>(&packet)) {
        FUZZ_CHECK(same(tftp::parse(tftp::encode_oack(oack->options)), packet));
        // A client that asked for exactly these options must not crash applying any OACK.
        tftp::TransferOptions client;
        (void)tftp::apply_oack(oack->options, oack->options, client);
    } else if (const auto* error = std::get_if<tftp::Error>(&packet)) {
        const tftp::Packet again = tftp::parse(tftp::encode_error(error->code, error->message));
        FUZZ_CHECK(std::holds_alternative<tftp::Error>(again));
    } else {
        FUZZ_CHECK(!std::get<tftp::Malformed>(packet).reason.empty());
    }
    for (const std::string_view text : {datagram, datagram.substr(0, 24)})
        if (const auto number = tftp::option_number(text, 8, 65464)) FUZZ_CHECK(*number >= 8 && *number <= 65464);
    return 0;
}
