#include "transfer.hpp"

#include <sockserv/base/error.hpp>

#include <algorithm>
#include <cerrno>
#include <deque>

#include <sys/socket.h>

namespace tftp {

using Clock = std::chrono::steady_clock;

Transfer::Transfer(const sockserv::Socket& socket, sockserv::Address peer, bool peer_port_known,
                   TransferSettings settings)
    : socket_(socket),
      peer_(std::move(peer)),
      peer_port_known_(peer_port_known),
      settings_(std::move(settings)),
      last_heard_(Clock::now()) {
    buffer_.resize(max_blksize + 64);
    if (settings_.options.timeout_seconds) settings_.timeout = std::chrono::seconds(*settings_.options.timeout_seconds);
}

void Transfer::send_packet(const std::string& packet) {
    try {
        socket_.sendto(packet, peer_);
    } catch (const std::system_error& error) {
        // A connected socket reports an earlier send's ICMP port unreachable on the next call.
        if (error.code() != std::errc::connection_refused) throw;
        refused_ = true;
    }
}

std::chrono::milliseconds Transfer::backoff(int retries) const {
    return std::min(settings_.timeout * (1 << std::min(retries, 3)), settings_.max_timeout);
}

std::optional<std::string> Transfer::reason_to_give_up() const {
    if (stopped_) return "the server is shutting down";
    if (refused_) return "the peer's port is closed (ICMP port unreachable)";
    const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_heard_);
    if (silent >= settings_.transfer_timeout)
        return "nothing from the peer for " + std::to_string(silent.count() / 1000) + " s";
    return std::nullopt;
}

Outcome Transfer::fail(std::uint64_t bytes, std::string why, std::uint16_t code, bool tell_peer) {
    if (tell_peer) {
        try {
            send_packet(encode_error(code, why));
        } catch (const std::system_error&) {
        }
    }
    Outcome outcome;
    outcome.bytes = bytes;
    outcome.error = std::move(why);
    return outcome;
}

std::optional<Packet> Transfer::wait(Clock::time_point deadline) {
    // With a stop to watch for, no single receive waits longer than this.
    constexpr std::chrono::milliseconds stop_poll{250};
    for (;;) {
        if (settings_.stopping && settings_.stopping()) {
            stopped_ = true;
            return std::nullopt;
        }
        if (refused_) return std::nullopt;
        // Silence is bounded whatever the retransmission interval: the wait ends when it runs out.
        deadline = std::min(deadline, last_heard_ + settings_.transfer_timeout);
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return std::nullopt;
        if (settings_.stopping) left = std::min(left, stop_poll);
        // A blocking recvfrom bounded by SO_RCVTIMEO: two system calls per block (send, receive)
        // instead of three with poll. The time-out is set again only when it changes by more than
        // a tenth (in lock-step it is the same every time).
        if (!receive_timeout_ || left < *receive_timeout_ * 9 / 10 || left > *receive_timeout_ * 11 / 10) {
            socket_.set_receive_timeout(left);
            receive_timeout_ = left;
        }
        sockserv::Address from;
        std::size_t size = 0;
        try {
            size = socket_.recvfrom(buffer_.data(), buffer_.size(), from);
        } catch (const sockserv::TimeoutError&) {
            continue;  // the deadline decides
        } catch (const std::system_error& error) {
            // ECONNREFUSED: an ICMP port unreachable for an earlier send, which only a connected
            // socket (the server's) is told of: nothing listens at the peer's port any more.
            // EINTR: a signal (SIGTERM, say) reached this thread, and a call with SO_RCVTIMEO is
            // never restarted (signal(7)): look at `stopping` again.
            if (error.code() == std::errc::connection_refused) {
                refused_ = true;
                return std::nullopt;
            }
            if (error.code() == std::errc::interrupted) continue;
            throw;
        }
        if (!peer_port_known_ && from.family() == peer_.family() && from.host() == peer_.host()) {
            peer_ = from;
            peer_port_known_ = true;
        }
        if (!(from == peer_)) {
            // Another transfer ID (RFC 1350 section 4): tell it, and carry on undisturbed.
            try {
                socket_.sendto(encode_error(unknown_transfer_id, "unknown transfer ID"), from);
            } catch (const std::system_error&) {
            }
            continue;
        }
        last_heard_ = Clock::now();
        if (size > buffer_.size()) size = buffer_.size();  // truncated: it will not parse as a good block
        return parse(std::string_view(buffer_.data(), size));
    }
}

Outcome Transfer::send(Source& source, const std::string& opening) {
    Outcome outcome;
    if (!opening.empty()) {  // wait for ACK 0 (or, as a client after a WRQ, an OACK)
        int retries = 0;
        send_packet(opening);
        auto deadline = Clock::now() + backoff(0);
        for (bool acked = false; !acked;) {
            const auto packet = wait(deadline);
            if (!packet) {
                if (auto why = reason_to_give_up()) return fail(outcome.bytes, *why, 0, stopped_);
                if (++retries > settings_.max_retries) return fail(outcome.bytes, "timed out waiting for the first ACK");
                send_packet(opening);
                deadline = Clock::now() + backoff(retries);
                continue;
            }
            if (const auto* ack = std::get_if<Ack>(&*packet); ack && ack->block == 0) {
                acked = true;
            } else if (const auto* oack = std::get_if<OptionAck>(&*packet); oack && on_oack) {
                if (auto problem = on_oack(*oack)) return fail(outcome.bytes, *problem, option_refused, true);
                acked = true;
            } else if (const auto* error = std::get_if<Error>(&*packet)) {
                return fail(outcome.bytes, "peer sent ERROR " + std::to_string(error->code) + ": " + error->message);
            }
        }
    }

    // The blocks in flight: window[i] is block acked + 1 + i (64-bit counters; the wire has 16 bits).
    const std::size_t blksize = settings_.options.blksize;  // (an OACK may just have set it)
    const std::size_t window_size = std::max<std::size_t>(1, settings_.options.windowsize);
    std::deque<std::string> window;
    std::uint64_t acked = 0, next = 1;
    std::optional<std::uint64_t> last;  // the final block's number, once read
    int retries = 0;
    auto deadline = Clock::now();
    for (;;) {
        while (!last && window.size() < window_size) {
            // The file is read straight into the packet, behind its 4-byte header: no copy.
            const std::uint64_t block = acked + window.size() + 1;
            std::string packet = encode_data(static_cast<std::uint16_t>(block & 0xFFFF), {});
            packet.resize(4 + blksize);
            std::size_t n = 0;
            try {
                n = source.read(packet.data() + 4, blksize);
            } catch (const ProtocolError& error) {
                return fail(outcome.bytes, error.what(), error.code, true);
            }
            packet.resize(4 + n);
            window.push_back(std::move(packet));
            outcome.bytes += n;
            if (n < blksize) last = block;  // short (or empty) block: the end
        }
        bool sent = false;
        while (next <= acked + window.size()) {
            send_packet(window[static_cast<std::size_t>(next - acked - 1)]);
            ++next;
            sent = true;
        }
        if (sent) deadline = Clock::now() + backoff(retries);

        const auto packet = wait(deadline);
        if (!packet) {
            if (auto why = reason_to_give_up()) return fail(outcome.bytes, *why, 0, stopped_);
            if (++retries > settings_.max_retries) return fail(outcome.bytes, "timed out waiting for ACK " + std::to_string(acked + 1));
            next = acked + 1;  // resend the window
            continue;
        }
        if (const auto* ack = std::get_if<Ack>(&*packet)) {
            // Which block in flight does it acknowledge? None: a duplicate or stale ACK — ignored,
            // never answered with a resend (Sorcerer's Apprentice).
            std::optional<std::uint64_t> hit;
            for (std::uint64_t block = acked + 1; block < next; ++block)
                if ((block & 0xFFFF) == ack->block) hit = block;
            if (!hit) continue;
            window.erase(window.begin(), window.begin() + static_cast<std::ptrdiff_t>(*hit - acked));
            acked = *hit;
            retries = 0;
            if (last && acked == *last) {
                outcome.ok = true;
                return outcome;
            }
            next = acked + 1;  // RFC 7440: the receiver saw up to here; go on (or resend) from the next
        } else if (const auto* error = std::get_if<Error>(&*packet)) {
            return fail(outcome.bytes, "peer sent ERROR " + std::to_string(error->code) + ": " + error->message);
        }
    }
}

Outcome Transfer::receive(Sink& sink, const std::string& opening) {
    Outcome outcome;
    std::string last_sent = opening;
    std::uint64_t expected = 1;
    std::size_t in_window = 0;
    int retries = 0;
    if (!last_sent.empty()) send_packet(last_sent);
    auto deadline = Clock::now() + backoff(0);
    for (;;) {
        const auto packet = wait(deadline);
        if (!packet) {
            if (auto why = reason_to_give_up()) return fail(outcome.bytes, *why, 0, stopped_);
            if (++retries > settings_.max_retries)
                return fail(outcome.bytes, "timed out waiting for DATA " + std::to_string(expected));
            if (!last_sent.empty()) send_packet(last_sent);
            deadline = Clock::now() + backoff(retries);
            in_window = 0;
            continue;
        }
        if (const auto* data = std::get_if<Data>(&*packet)) {
            const std::size_t blksize = settings_.options.blksize;
            if (data->block != (expected & 0xFFFF)) {
                // A duplicate, or a gap in a window: acknowledge what we have so the sender goes on
                // from there. (Answering duplicates is what the receiver must do; it is the sender
                // that must not answer duplicate ACKs.)
                last_sent = encode_ack(static_cast<std::uint16_t>((expected - 1) & 0xFFFF));
                send_packet(last_sent);
                in_window = 0;
                continue;
            }
            if (data->payload.size() > blksize)
                return fail(outcome.bytes, "DATA larger than the block size", illegal_operation, true);
            const bool final_block = data->payload.size() < blksize;
            try {
                sink.write(data->payload);
                if (final_block) sink.finish();  // before the final ACK: a failure is reported, not ACKed
            } catch (const ProtocolError& error) {
                return fail(outcome.bytes, error.what(), error.code, true);
            }
            outcome.bytes += data->payload.size();
            ++expected;
            retries = 0;
            if (final_block || ++in_window >= settings_.options.windowsize) {
                last_sent = encode_ack(static_cast<std::uint16_t>((expected - 1) & 0xFFFF));
                send_packet(last_sent);
                in_window = 0;
            }
            deadline = Clock::now() + backoff(0);
            if (final_block) {
                outcome.ok = true;
                // Dally: our final ACK may be lost; the sender then repeats its last block.
                const auto dally_end = Clock::now() + settings_.dally;
                while (const auto again = wait(dally_end)) {
                    if (const auto* repeat = std::get_if<Data>(&*again);
                        repeat && repeat->block == ((expected - 1) & 0xFFFF))
                        send_packet(last_sent);
                }
                return outcome;
            }
        } else if (const auto* oack = std::get_if<OptionAck>(&*packet); oack && on_oack && expected == 1) {
            if (auto problem = on_oack(*oack)) return fail(outcome.bytes, *problem, option_refused, true);
            last_sent = encode_ack(0);
            send_packet(last_sent);
            deadline = Clock::now() + backoff(0);
        } else if (const auto* error = std::get_if<Error>(&*packet)) {
            return fail(outcome.bytes, "peer sent ERROR " + std::to_string(error->code) + ": " + error->message);
        }
    }
}

}  // namespace tftp
