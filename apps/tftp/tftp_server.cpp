// tftp_server: files over real TFTP (UDP, RFC 1350 with options) and over the list/get/put
// service (TCP), on one port number, under any --mode.
//   tftp_server [--port 6969] [-d DIR] [--allow-upload [--create] [--no-overwrite]] [--mode fork]

#include "file_service_handler.hpp"
#include "options.hpp"
#include "tftp_handler.hpp"
#include "tftp_udp_server.hpp"

#include <sockserv/sockserv.hpp>

namespace {

[[noreturn]] void fail(const std::string& message) { sockserv::cli::usage_error("tftp_server", message); }

std::optional<std::pair<std::uint16_t, std::uint16_t>> port_range(const std::string& text) {
    if (text.empty()) return std::nullopt;
    const auto separator = text.find_first_of(":-");
    const auto low = tftp::option_number(text.substr(0, separator), 1, 65535);
    const auto high = separator == std::string::npos ? low : tftp::option_number(text.substr(separator + 1), 1, 65535);
    if (!low || !high || *low > *high) fail("invalid --port-range '" + text + "' (expected LOW:HIGH)");
    return std::make_pair(static_cast<std::uint16_t>(*low), static_cast<std::uint16_t>(*high));
}

}  // namespace

int main(int argc, char** argv) {
    sockserv::cli::Spec spec;
    spec.summary = "Serves a directory over TFTP (UDP) and the list/get/put file service (TCP), on one port.";
    spec.default_mode = sockserv::Mode::event;
    spec.default_mode_reason =
        "thousands of transfers and connections on one thread per CPU; measured here level with thread mode with "
        "windowsize (2.3x tftpd-hpa) and on the TCP get, 5% behind it in lock-step (a round trip per block)";
    spec.default_port = 6969;
    spec.option<std::string>("directory,d", ".", "directory to serve")
        .flag("allow-upload", "accept uploads (WRQ, put); off by default")
        .flag("create", "with --allow-upload: uploads may create new files")
        .flag("no-overwrite", "with --allow-upload: an upload to an existing name is refused (file exists)")
        .option<std::string>("port-range", "", "ports for UDP transfers, LOW:HIGH (default: any)")
        .option<double>("timeout", 1, "seconds before a UDP packet is sent again (doubling)")
        .option<double>("max-timeout", 10, "longest wait before a resend, whatever timeout a client asks for")
        .option<double>("transfer-timeout", 30, "seconds of silence from a client before its transfer is given up")
        .option<double>("request-max-age", 3,
                        "a request that waited longer in the queue is dropped: its client has sent it again, "
                        "or gone (its timeout option, if sent, is used instead)")
        .option<int>("retries", 5, "resends of one packet before a transfer gives up")
        // Measured (a server that never ACKs the last block): tftp-hpa and atftp re-send it after
        // 5 s, busybox within 2 s, curl 6.2 s after with timeout=6 acknowledged (72 s if not).
        .option<double>("dally", 10, "seconds to stay after an upload's last ACK, to answer a repeat")
        .flag("no-udp", "serve only the TCP file service")
        .flag("no-tcp", "serve only TFTP over UDP");
    auto options = sockserv::cli::parse(argc, argv, "tftp_server", std::move(spec));
    if (!options.unix_path.empty()) fail("--unix is not supported: TFTP is UDP/IP");

    tftp::FilePolicy policy;
    policy.allow_upload = options.values.has("allow-upload");
    policy.create = options.values.has("create");
    policy.overwrite = !options.values.has("no-overwrite");
    const bool udp = !options.values.has("no-udp");
    const bool tcp = !options.values.has("no-tcp");
    if (!udp && !tcp) fail("--no-udp and --no-tcp leave nothing to serve");
    const int retries = options.values.get<int>("retries");
    if (retries < 0 || retries > 100) fail("--retries must be between 0 and 100");

    std::unique_ptr<tftp::Service> service;  // not movable (its FileRoot holds an atomic): made in place
    try {
        service.reset(new tftp::Service{tftp::Files(options.values.get<std::string>("directory"), policy),
                                        port_range(options.values.get<std::string>("port-range")),
                                        {},
                                        options.verbose,
                                        std::chrono::milliseconds(3000),
                                        tftp::TftpMetrics(options.metrics_registry())});
    } catch (const std::system_error& error) {
        sockserv::log("tftp_server: ", error.what());
        return 1;
    }
    service->transfer.timeout = options.seconds("timeout", 0.01, 255);
    service->transfer.max_timeout = options.seconds("max-timeout", 0.01, 255);
    service->transfer.transfer_timeout = options.seconds("transfer-timeout", 0.1, 86400);
    service->transfer.max_retries = retries;
    service->transfer.dally = options.seconds("dally", 0, 60);
    service->request_max_age = options.seconds("request-max-age", 0.1, 255);

    // A stop ends every transfer within a second: UDP transfers see stopping() within 250 ms; a
    // TCP get or put still running after 1 s (a client that stopped reading) is cut off, so the
    // server is gone within 2 s whatever its clients do.
    options.stop_timeout = std::chrono::seconds(1);
    // The TCP file service's client speaks first: in event mode a connection holds no stack until
    // its first command, and one silent for the handler's own time-out (60 s) is closed.
    options.mode_settings.event.start_on_first_bytes = true;
    options.mode_settings.event.first_bytes_timeout = tftp::FileServiceHandler::idle_limit;
    options.on_ready = [udp, tcp](const sockserv::BaseServer& server, const sockserv::cli::Options& parsed) {
        const std::string files = parsed.tls ? "tcp files over TLS" : "tcp files";
        const std::string what = udp && tcp ? "udp tftp, " + files : udp ? "udp tftp" : files;
        sockserv::log("tftp_server: serving on ", server.server_address().to_string(), " (", what,
                      "; mode: ", sockserv::to_string(parsed.mode), ")");
        if (parsed.tls && tcp) sockserv::log("tftp_server: ", parsed.tls->describe());
    };
    if (udp && tcp)
        return sockserv::serve_pair<tftp::TftpUDPServer, tftp::TftpHandler, sockserv::TCPServer, tftp::FileServiceHandler>(
            options, *service);
    if (udp) return sockserv::serve<tftp::TftpUDPServer, tftp::TftpHandler>(options, *service);
    return sockserv::serve<sockserv::TCPServer, tftp::FileServiceHandler>(options, *service);
}
