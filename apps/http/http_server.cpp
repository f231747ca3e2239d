// http_server: a static file server, `python3 -m http.server` with keep-alive, ranges,
// conditional requests, sendfile and time-outs, under any --mode.
//   http_server [PORT] [-b ADDRESS] [-d DIRECTORY] [--mode sync|thread|fork|event] [--workers N]

#include "http_handler.hpp"
#include "site.hpp"

#include <sockserv/sockserv.hpp>

#include <sys/socket.h>
#include <unistd.h>

namespace {

bool ipv6_available() {
    const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    ::close(fd);
    return true;
}

// Python's banner: "Serving HTTP on :: port 8000 (http://[::]:8000/) ...", and 3.14's "Serving
// HTTPS on ..." with TLS, followed here by the TLS settings (kTLS or not).
void announce(const sockserv::BaseServer& server, const sockserv::cli::Options& options) {
    const sockserv::Address& address = server.server_address();
    const std::string protocol = options.tls ? "HTTPS" : "HTTP";
    const std::string scheme = options.tls ? "https" : "http";
    std::string line;
    if (address.is_unix()) {
        line = "Serving " + protocol + " on " + address.path() + " (curl --unix-socket " + address.path() + " " +
               scheme + "://localhost/)";
    } else {
        const std::string host = address.host();
        const std::string url_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
        line = "Serving " + protocol + " on " + host + " port " + std::to_string(address.port()) + " (" + scheme +
               "://" + url_host + ":" + std::to_string(address.port()) + "/)";
    }
    sockserv::log(line, " ... mode ", sockserv::to_string(options.mode));
    if (options.tls) sockserv::log("http_server: ", options.tls->describe());
}

}  // namespace

int main(int argc, char** argv) {
    sockserv::cli::Spec spec;
    spec.summary = "Serves the files of a directory over HTTP/1.1, as python3 -m http.server does.";
    spec.default_mode = sockserv::Mode::event;
    spec.default_mode_reason =
        "one event loop per CPU: here 1.5-1.7x thread mode's requests/s at 128 and 1,000 connections, level with "
        "nginx, and a waiting connection costs a page, so thousands are cheap";
    spec.default_host = "";
    spec.default_port = 8000;
    spec.tls_alpn = {"http/1.1"};
    spec.option<std::string>("bind,b", "address to bind (default: every interface, IPv6 and IPv4)")
        .option<std::string>("directory,d", ".", "directory to serve")
        .flag("follow-symlinks", "serve symlinks that lead out of the directory (off: 403)")
        .flag("no-file-cache",
              "open every file per request: for a tree changed where inotify cannot see (a network file system, "
              "writes through mmap); by default hot files stay open, small ones in memory, and any change inotify "
              "reports drops them at once")
        .option<double>("idle-timeout", 5, "seconds a connection may wait for its next request")
        .option<double>("header-timeout", 10, "seconds a request's head may take once it has begun")
        .option<double>("send-timeout", 60, "seconds a send may stall on a client that stopped reading")
        .positional("port");
    auto options = sockserv::cli::parse(argc, argv, "http_server", std::move(spec));

    if (options.values.has("bind")) {
        options.host = options.values.get<std::string>("bind");
    } else if (options.values.defaulted("host")) {
        // Python's default: every interface, both families when the machine has IPv6.
        options.host = ipv6_available() ? "::" : "0.0.0.0";
        options.dual_stack = true;
    }

    http_app::SiteOptions site_options;
    site_options.directory = options.values.get<std::string>("directory");
    site_options.follow_symlinks = options.values.has("follow-symlinks");
    site_options.file_cache = !options.values.has("no-file-cache");
    site_options.keep_alive = sockserv::mode_info(options.mode).concurrent;  // sync: one client at a time
    site_options.idle_timeout = options.seconds("idle-timeout", 0.001, 86400);
    const auto site_options_idle_timeout = site_options.idle_timeout;
    site_options.header_timeout = options.seconds("header-timeout", 0.001, 86400);
    site_options.send_timeout = options.seconds("send-timeout", 0.001, 86400);
    site_options.metrics = http_app::HttpMetrics(options.metrics_registry());

    std::optional<http_app::Site> site;
    try {
        site.emplace(std::move(site_options));
    } catch (const std::exception& error) {
        sockserv::log("http_server: ", error.what());
        return 1;
    }
    // A client speaks first: in event mode a connection holds no stack until its request begins,
    // and one silent for the idle time-out is closed, as an idle keep-alive connection is.
    options.mode_settings.event.start_on_first_bytes = true;
    options.mode_settings.event.first_bytes_timeout = site_options_idle_timeout;
    // Set once on the listener, inherited by every connection (no setsockopt per connection).
    // 256 KiB: a blocking sendfile returns once the whole range is queued; with the kernel's
    // first 16 KiB send buffer a 64 KiB file means several sleeps and wake-ups per response
    // (measured: 64 KB at 16 connections, 13.7k -> 20k requests/s). Memory is only used while
    // data is in flight.
    options.mode_settings.tcp_nodelay = true;
    options.mode_settings.send_buffer_size = 256 * 1024;
    http_app::warm_up();
    options.on_ready = announce;
    if (!options.unix_path.empty()) return sockserv::serve<sockserv::UnixStreamServer, http_app::HttpHandler>(options, *site);
    return sockserv::serve<sockserv::TCPServer, http_app::HttpHandler>(options, *site);
}
