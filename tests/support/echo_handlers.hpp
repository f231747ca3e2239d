#pragma once
// The echo handlers most tests serve.

#include <sockserv/sockserv.hpp>

namespace test {

struct StreamEcho : sockserv::StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        std::string line;
        while (rfile().readline(line)) wfile().write(line);
    }
};

struct DatagramEcho : sockserv::DatagramRequestHandler {
    using DatagramRequestHandler::DatagramRequestHandler;
    void handle() override { reply(packet()); }
};

}  // namespace test
