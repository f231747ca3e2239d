#pragma once
// TftpUDPServer<Handler>: the UDP transport for TFTP requests, which serves a client's request once,
// and only while the client can still be waiting for the answer.
//
// A client re-sends its RRQ/WRQ until it hears from us: busybox after 100 ms, tftp-hpa and atftp
// every 5 s, curl every `timeout` seconds (the option it sends). Every datagram passes here first
// (verify_request, in every mode before the mode dispatches it: in the parent in fork mode), and
// "arrived" is the kernel's stamp, not when the loop read it — in sync mode a request can wait in
// the socket's queue behind a long transfer or an upload's dally. Two rules follow:
//
// - A copy that arrived before we dispatched the same request (same bytes, same address and port),
//   or within a moment after, is a repeat and is dropped: served, it would start a second transfer
//   to a client that already has its answer, which the client ignores while our transfer waits.
// - A request that waited longer than its client waits before re-sending it is abandoned: a client
//   still waiting has sent a newer copy, which is behind it in the queue and is served instead; a
//   client with no newer copy has given up. How long the client waits: its timeout option (RFC
//   2349: the client's own retransmission interval) or else --request-max-age (3 s, under the 5 s
//   of tftp-hpa and atftp, so their last copy is never served after they stop waiting).
// Without the second rule sync mode fell into a chain of stalls: each queued request was served
// after its client had gone, the transfer waited out its time-outs for nobody, and every request
// behind it grew older still.

#include "packet.hpp"
#include "options.hpp"

#include <sockserv/base/log.hpp>
#include <sockserv/server/udp_server.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <string>

namespace tftp {

template <class Handler>
class TftpUDPServer : public sockserv::UDPServer<Handler> {
    using Base = sockserv::UDPServer<Handler>;
    using Clock = std::chrono::steady_clock;

public:
    /// How long after we dispatched a request a copy of it still counts as a repeat (the client
    /// may have sent it before our answer reached it).
    static constexpr auto repeat_window = std::chrono::seconds(2);

    using Base::Base;

    bool verify_request(sockserv::Request& request) override {
        const auto now = Clock::now();
        const auto arrived = request.received;
        while (!dispatched_.empty() && arrived - dispatched_.front().at > repeat_window) dispatched_.pop_front();
        for (const Dispatched& earlier : dispatched_)
            if (earlier.client == request.client_address && earlier.packet == request.packet) return false;
        if (!request.truncated()) {
            const Packet parsed = parse(request.packet);
            if (const auto* asked = std::get_if<Request>(&parsed)) {
                const auto patience = client_patience(*asked);
                if (now - arrived > patience) {
                    report_abandoned(request, *asked, now - arrived, patience);
                    return false;
                }
            }
        }
        if (dispatched_.size() < 4096) dispatched_.push_back({request.client_address, request.packet, now});
        return Base::verify_request(request);
    }

private:
    Clock::duration client_patience(const Request& request) {
        for (const auto& [name, value] : request.options)
            if (name == "timeout")
                if (const auto seconds = option_number(value, 1, 255)) return std::chrono::seconds(*seconds);
        return this->state().request_max_age;
    }

    static void report_abandoned(const sockserv::Request& request, const Request& asked, Clock::duration waited,
                                 Clock::duration patience) {
        char figures[96];
        std::snprintf(figures, sizeof figures, "%.1f s in the queue (its client re-sends after %.1f s)",
                      std::chrono::duration<double>(waited).count(), std::chrono::duration<double>(patience).count());
        sockserv::log(request.client_address.to_string(), " ", describe(asked), ": dropped, waited ", figures);
    }

    struct Dispatched {
        sockserv::Address client;
        std::string packet;
        Clock::time_point at;
    };
    std::deque<Dispatched> dispatched_;
};

}  // namespace tftp
