// udp_upper: a UDP server. Every datagram comes back in capitals; one datagram is one request.
//   udp_upper [PORT]       then: echo hello | nc -u -w1 127.0.0.1 PORT

#include <sockserv/server/request_handler.hpp>
#include <sockserv/server/udp_server.hpp>

#include <cctype>
#include <cstdio>
#include <string>

struct Upper : sockserv::DatagramRequestHandler {
    using DatagramRequestHandler::DatagramRequestHandler;
    void handle() override {
        std::string text(packet());
        for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        reply(text);  // nothing is sent unless the handler replies
    }
};

int main(int argc, char** argv) {
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::stoi(argv[1]) : 0);
    sockserv::UDPServer<Upper> server{{"127.0.0.1", port}};
    std::printf("udp_upper on port %u\n", static_cast<unsigned>(server.server_address().port()));
    std::fflush(stdout);
    server.serve_forever();
}
