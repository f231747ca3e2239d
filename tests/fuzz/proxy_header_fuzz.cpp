// A PROXY protocol header (v1 or v2) as a load balancer, or anyone pretending to be one, sends it.

#include "fuzz_check.hpp"

#include <sockserv/base/proxy_header.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const auto parsed = sockserv::proxy::parse(bytes);
    switch (parsed.status) {
    case sockserv::proxy::Status::complete: {
        const auto& header = parsed.header;
        FUZZ_CHECK(header.size > 0 && header.size <= size && header.size <= sockserv::proxy::max_size);
        FUZZ_CHECK(header.version == 1 || header.version == 2);
        FUZZ_CHECK(header.version != 1 || header.size <= sockserv::proxy::max_v1_size);
        // Decided by the header's own bytes: the same without what follows it.
        const auto alone = sockserv::proxy::parse(bytes.substr(0, header.size));
        FUZZ_CHECK(alone.status == sockserv::proxy::Status::complete && alone.header.size == header.size);
        FUZZ_CHECK(!header.proxied || (header.source.family() == header.destination.family()));
        if (header.proxied) (void)header.source.to_string();
        break;
    }
    case sockserv::proxy::Status::need_more:
        FUZZ_CHECK(size < sockserv::proxy::max_size);
        break;
    case sockserv::proxy::Status::invalid:
        FUZZ_CHECK(!parsed.error.empty());
        break;
    }
    return 0;
}
