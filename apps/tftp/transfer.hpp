#pragma once
// One TFTP transfer on its own socket: the lock-step (or windowed, RFC 7440) exchange of DATA and
// ACK, for either side. The server and the client run the same code.
//
// What it gets right that many implementations do not: block numbers roll over 65535 -> 0 (the
// sender counts in 64 bits and matches ACKs modulo 2^16 against the blocks in flight); a file that
// is an exact multiple of the block size ends with an empty DATA; a duplicate ACK never triggers a
// resend (the Sorcerer's Apprentice bug, RFC 1123 4.2.3.1) — only a time-out does, with back-off
// and a bounded number of tries; a packet from a foreign port gets ERROR 5 and leaves the transfer
// alone (on a connected socket, the server's, the kernel drops it instead); a peer whose port is
// closed (ICMP port unreachable, reported on a connected socket) ends the transfer at once; the
// receiver dallies after its final ACK to answer a retransmitted last block.

#include "options.hpp"
#include "packet.hpp"

#include <sockserv/base/address.hpp>
#include <sockserv/io/socket.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace tftp {

/// Where a sent transfer's bytes come from: read() fills up to n bytes, fewer only at the end.
class Source {
public:
    virtual ~Source() = default;
    virtual std::size_t read(char* buffer, std::size_t n) = 0;
};

/// Where a received transfer's bytes go. finish() runs once the last block has arrived.
class Sink {
public:
    virtual ~Sink() = default;
    virtual void write(std::string_view bytes) = 0;
    virtual void finish() {}
};

struct TransferSettings {
    TransferOptions options;
    /// First retransmission time-out; doubles on each retry up to 8 times this.
    std::chrono::milliseconds timeout{1000};
    /// No wait between retransmissions is longer, whatever the peer's timeout option asked for
    /// (RFC 2349 allows 255 s: doubling from that, one vanished client held a worker for hours).
    std::chrono::milliseconds max_timeout{10000};
    /// A transfer that hears nothing from its peer for this long gives up, retries left or not.
    std::chrono::milliseconds transfer_timeout{30000};
    /// Asked at least every 250 ms while waiting: true ends the transfer at once, with an ERROR to
    /// the peer (a server shutting down). Empty: never.
    std::function<bool()> stopping;
    /// Retransmissions of one packet before giving up.
    int max_retries = 5;
    /// After the final ACK of a received transfer: how long to stay and re-ACK a retransmitted
    /// last block (curl retransmits after 5 s).
    std::chrono::milliseconds dally{10000};
};

struct Outcome {
    bool ok = false;
    std::uint64_t bytes = 0;
    std::string error;  // why it failed
};

class Transfer {
public:
    /// `peer`: who the transfer is with. When `peer_port_known` is false (a client before the
    /// server's first answer), the first packet from the peer's host fixes its port (the TID).
    Transfer(const sockserv::Socket& socket, sockserv::Address peer, bool peer_port_known, TransferSettings settings);

    /// The client's side of option negotiation: called with an OACK; returns a problem to refuse it
    /// with ERROR 8. May change settings().options.
    std::function<std::optional<std::string>(const OptionAck&)> on_oack;

    /// Sends the source as DATA blocks. `opening`, when not empty, is sent first and repeated until
    /// the peer's ACK 0 (a server's OACK, a client's WRQ; a client also takes an OACK as that answer).
    Outcome send(Source& source, const std::string& opening);
    /// Receives DATA blocks into the sink. `opening` (a server's OACK or ACK 0, a client's RRQ) is
    /// sent first and repeated until the first DATA (a client answers an OACK with ACK 0).
    Outcome receive(Sink& sink, const std::string& opening);

    TransferSettings& settings() noexcept { return settings_; }
    const sockserv::Address& peer() const noexcept { return peer_; }

private:
    /// The next packet from the peer before `deadline`; nullopt on time-out, a stop or a closed
    /// peer port (reason_to_give_up says which). Packets from anyone else get ERROR 5 and are skipped.
    std::optional<Packet> wait(std::chrono::steady_clock::time_point deadline);
    void send_packet(const std::string& packet);
    std::chrono::milliseconds backoff(int retries) const;
    // What failed, with the bytes moved until then (a failed upload logs how much arrived).
    Outcome fail(std::uint64_t bytes, std::string why, std::uint16_t code = 0, bool tell_peer = false);

    const sockserv::Socket& socket_;
    sockserv::Address peer_;
    bool peer_port_known_;
    TransferSettings settings_;
    std::string buffer_;
    std::optional<std::chrono::milliseconds> receive_timeout_;  // what SO_RCVTIMEO is set to
    std::chrono::steady_clock::time_point last_heard_;  // the peer's last packet (or the start)
    bool stopped_ = false;                              // wait() returned because of stopping
    bool refused_ = false;                              // the peer's port answered ICMP unreachable
    /// After a wait that timed out: why the transfer must end now rather than retransmit (the
    /// server stops, or the peer was silent for transfer_timeout), or nullopt.
    std::optional<std::string> reason_to_give_up() const;
};

}  // namespace tftp
