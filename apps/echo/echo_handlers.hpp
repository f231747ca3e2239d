#pragma once
// The echo handlers: each line (stream) or datagram goes back to its sender. echo_server serves
// them, and the library's tests use them as their workload.

#include <sockserv/request_handler.hpp>

#include <string>

namespace echo {

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

}  // namespace echo
