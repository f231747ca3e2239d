#include "tftp_handler.hpp"

#include <sockserv/server/base_server.hpp>
#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>

#include <chrono>
#include <cstdio>
#include <random>

namespace tftp {

void TftpHandler::log(const std::string& line) const {
    sockserv::log(client_address().to_string(), " ", line);
}

void TftpHandler::handle() {
    if (truncated()) {
        reply(encode_error(illegal_operation, "request too large"));
        return;
    }
    const Packet parsed = parse(packet());
    if (const auto* request = std::get_if<Request>(&parsed)) {
        serve(*request);
    } else if (const auto* malformed = std::get_if<Malformed>(&parsed)) {
        reply(encode_error(illegal_operation, malformed->reason));
        log("malformed packet: " + malformed->reason);
    } else if (!std::holds_alternative<Error>(parsed)) {
        // DATA, ACK or OACK on the server's port belong to no transfer. An ERROR is never
        // answered (two servers could otherwise bounce errors forever).
        reply(encode_error(illegal_operation, "only RRQ and WRQ are accepted on this port"));
    }
}

sockserv::Socket TftpHandler::open_transfer_socket() {
    const sockserv::Address& local = server().server_address();
    sockserv::Socket socket(local.family(), SOCK_DGRAM);
    const std::string host = local.host();
    if (!state().port_range) {
        socket.bind(sockserv::Address(host, 0));
        return socket;
    }
    const auto [low, high] = *state().port_range;
    static thread_local std::mt19937 random(std::random_device{}());
    const unsigned span = static_cast<unsigned>(high - low) + 1;
    const unsigned start = random() % span;
    for (unsigned i = 0; i < span; ++i) {
        try {
            socket.bind(sockserv::Address(host, static_cast<std::uint16_t>(low + (start + i) % span)));
            return socket;
        } catch (const std::system_error& error) {
            if (error.code() != std::errc::address_in_use) throw;
        }
    }
    throw std::system_error(std::make_error_code(std::errc::address_in_use), "no free port in --port-range");
}

void TftpHandler::serve(const Request& request) {
    sockserv::Socket socket = open_transfer_socket();
    const sockserv::Address& client = client_address();
    // Connected, as tftpd-hpa does: the kernel then keeps other ports' packets off this socket and
    // reports an ICMP port unreachable (the client's program is gone) to the transfer, which ends
    // at once instead of re-sending into the void until its time-outs run out.
    socket.connect(client);
    const auto refuse = [&](std::uint16_t code, const std::string& message) {
        socket.sendto(encode_error(code, message), client);
        state().metrics.refused.add();
        log(describe(request) + ": refused: " + std::to_string(code) + " " + message);
    };
    if (!is_supported_mode(request.mode)) return refuse(illegal_operation, "unsupported mode (octet or netascii)");
    const bool netascii = is_netascii(request.mode);
    const Files& files = state().files;
    const auto started = std::chrono::steady_clock::now();

    Outcome outcome;
    Negotiation negotiation;
    if (!request.write) {
        auto opened = files.open_for_read(request.filename);
        if (const auto* refusal = std::get_if<Refusal>(&opened)) return refuse(refusal->code, refusal->message);
        auto& download = std::get<Files::Download>(opened);
        negotiation = negotiate(request, download.size);
        if (negotiation.refusal) return refuse(option_refused, *negotiation.refusal);
        TransferSettings settings = state().transfer;
        settings.options = negotiation.options;
        settings.stopping = [this] { return server().stopping(); };  // a shutdown ends the transfer
        Transfer transfer(socket, client, true, settings);
        FileSource source(download.file.get(), netascii);
        outcome = transfer.send(source, negotiation.oack.empty() ? std::string() : encode_oack(negotiation.oack));
    } else {
        auto begun = files.begin_upload(request.filename);
        if (const auto* refusal = std::get_if<Refusal>(&begun)) return refuse(refusal->code, refusal->message);
        Upload& upload = std::get<Upload>(begun);
        negotiation = negotiate(request, 0);
        if (negotiation.refusal) return refuse(option_refused, *negotiation.refusal);
        TransferSettings settings = state().transfer;
        settings.options = negotiation.options;
        settings.stopping = [this] { return server().stopping(); };  // a shutdown ends the transfer
        Transfer transfer(socket, client, true, settings);
        UploadSink sink(upload, netascii);
        outcome = transfer.receive(sink, negotiation.oack.empty() ? encode_ack(0) : encode_oack(negotiation.oack));
    }
    (outcome.ok ? state().metrics.done : state().metrics.failed).add();
    (request.write ? state().metrics.bytes_received : state().metrics.bytes_sent).add(outcome.bytes);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    char figures[96];
    std::snprintf(figures, sizeof figures, "%llu bytes in %.3f s", static_cast<unsigned long long>(outcome.bytes), seconds);
    log(describe(request) + (outcome.ok ? ": done, " : ": failed (" + outcome.error + "), ") + figures);
}

}  // namespace tftp
