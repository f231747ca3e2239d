#pragma once
// TftpHandler: one request datagram on the server's port (RRQ or WRQ) becomes one transfer on a
// socket of its own, with its own port (the transfer ID of RFC 1350), run to the end by this
// handler — in the thread or child the mode gives it.

#include "service.hpp"

#include <sockserv/server/request_handler.hpp>

namespace tftp {

class TftpHandler : public sockserv::WithState<sockserv::DatagramRequestHandler, Service> {
public:
    using WithState::WithState;
    void handle() override;

private:
    void serve(const Request& request);
    sockserv::Socket open_transfer_socket();
    void log(const std::string& line) const;
};

}  // namespace tftp
