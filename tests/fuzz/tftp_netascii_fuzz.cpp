// netascii both ways: whatever a peer sends decodes without fault, in pieces as datagrams cut it,
// and every file survives encode then decode unchanged.

#include "fuzz_check.hpp"
#include "netascii.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // The first byte says where the blocks are cut (a CR at a block's end is the tricky case).
    const std::size_t cut = 1 + data[0] % 16;
    const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

    std::string wire;
    for (std::size_t at = 0; at < bytes.size(); at += cut) tftp::netascii_encode(bytes.substr(at, cut), wire);
    tftp::NetasciiDecoder round_trip;
    std::string back;
    for (std::size_t at = 0; at < wire.size(); at += cut) round_trip.decode(std::string_view(wire).substr(at, cut), back);
    round_trip.finish(back);
    FUZZ_CHECK(back == bytes);

    tftp::NetasciiDecoder hostile;
    std::string decoded;
    for (std::size_t at = 0; at < bytes.size(); at += cut) hostile.decode(bytes.substr(at, cut), decoded);
    hostile.finish(decoded);
    FUZZ_CHECK(decoded.size() <= bytes.size() + 1);
    return 0;
}
