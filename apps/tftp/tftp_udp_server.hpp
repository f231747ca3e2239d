#pragma once
// TftpUDPServer<Handler>: the UDP transport for TFTP requests, which drops repeated requests.
//
// A client resends its RRQ/WRQ when our first answer is slow to come (busybox after 50 ms). The
// copy is the same bytes from the same address and port. Served, it would start a second transfer
// to a client that already has its answer: the client ignores or rejects it, and our transfer
// waits out every retry (half a minute) — in sync mode with the whole server blocked behind it.
// The serving loop sees every datagram first (verify_request, in every mode before the mode
// dispatches it: in the parent in fork mode), so it remembers the requests that arrived in the last
// moments and drops an exact repeat. "Arrived" is the kernel's stamp, not when the loop read it: in
// sync mode a copy that queued up behind a long transfer is read long after, yet is still a copy.

#include <sockserv/udp_server.hpp>

#include <chrono>
#include <deque>
#include <string>

namespace tftp {

template <class Handler>
class TftpUDPServer : public sockserv::UDPServer<Handler> {
    using Base = sockserv::UDPServer<Handler>;
    using Clock = std::chrono::steady_clock;

public:
    /// How long after a request's arrival a copy of it counts as a repeat.
    static constexpr auto repeat_window = std::chrono::seconds(2);

    using Base::Base;

    bool verify_request(sockserv::Request& request) override {
        const auto arrived = request.received;
        while (!recent_.empty() && arrived - recent_.front().arrived > repeat_window) recent_.pop_front();
        for (const Seen& seen : recent_)
            if (seen.client == request.client_address && seen.packet == request.packet) return false;
        if (recent_.size() < 4096) recent_.push_back({request.client_address, request.packet, arrived});
        return Base::verify_request(request);
    }

private:
    struct Seen {
        sockserv::Address client;
        std::string packet;
        Clock::time_point arrived;
    };
    std::deque<Seen> recent_;
};

}  // namespace tftp
