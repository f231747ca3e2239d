#pragma once
// The echo handlers: each line (stream) or datagram goes back to its sender. echo_server serves
// them, and the library's tests use them as their workload.

#include <sockserv/base/log.hpp>
#include <sockserv/server/base_server.hpp>
#include <sockserv/server/request_handler.hpp>

#include <string>

namespace echo {

struct StreamEcho : sockserv::StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        // --verbose names each client: behind a proxy (--proxy-protocol) the one its header named.
        if (server().config().verbose) sockserv::log("echo: connection from ", client_address().to_string());
        // Whatever arrived goes back as it is, which is every line back, sent straight from
        // rfile()'s buffer: nothing copied or assembled on the heap or the stack (in fork mode each
        // page a child dirties is a copy-on-write fault, per request).
        while (!rfile().buffered().empty() || rfile().fill() > 0) {
            const std::string_view data = rfile().buffered();
            wfile().send(data);
            rfile().consume(data.size());
        }
    }
};

struct DatagramEcho : sockserv::DatagramRequestHandler {
    using DatagramRequestHandler::DatagramRequestHandler;
    void handle() override { reply(packet()); }
};

}  // namespace echo
