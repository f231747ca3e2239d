#include <sockserv/program/observability.hpp>

#include <sockserv/base/error.hpp>

#include <cstdio>
#include <stdexcept>
#include <string_view>

namespace sockserv {

namespace {

PoolMetrics declare_pool(metrics::Registry& r) {
    using metrics::Series;
    PoolMetrics pool;
    pool.workers_alive = r.gauge("sockserv_workers", "Pool workers alive (with --workers).");
    pool.restarts = r.counter("sockserv_worker_restarts_total",
                              "Workers that died (a crash, a kill, --max-requests) and were replaced, per worker slot.",
                              Series{.per_worker = true});
    pool.killed = r.counter("sockserv_workers_killed_total", "Stopping workers killed at --graceful-timeout.");
    pool.reloads = r.counter("sockserv_reloads_total", "Reloads (SIGHUP to the master) that started new workers.");
    pool.worker_pid = r.gauge("sockserv_worker_pid", "Each worker's process id (its latest).", Series{.per_worker = true});
    return pool;
}

std::string count(const metrics::Registry& registry, std::string_view name, std::string_view labels = {}) {
    char text[32];
    std::snprintf(text, sizeof text, "%.0f", registry.value(name, labels));
    return text;
}

}  // namespace

Observability::Observability(std::string program, Address listen)
    : program_(std::move(program)), listen_(std::move(listen)), server_(*registry_), pool_(declare_pool(*registry_)) {}

Address Observability::parse_listen(const std::string& text) {
    if (text.empty()) throw std::invalid_argument("empty");
    if (text.find_first_not_of("0123456789") == std::string::npos) {
        if (text.size() > 5 || std::stoul(text) > 65535) throw std::invalid_argument("port out of range");
        return Address("127.0.0.1", static_cast<std::uint16_t>(std::stoul(text)));
    }
    return Address::parse(text);
}

std::string Observability::status() const {
    const metrics::Registry& r = *registry_;
    const double failed = r.value("sockserv_requests_failed_total", "cause=\"handler_exception\"") +
                          r.value("sockserv_requests_failed_total", "cause=\"peer_gone\"") +
                          r.value("sockserv_requests_failed_total", "cause=\"timeout\"");
    char failed_text[32];
    std::snprintf(failed_text, sizeof failed_text, "%.0f", failed);
    const auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count();
    std::string text = program_ + " (sockserv), up " + std::to_string(up) + " s\n";
    text.append("Active connections: ").append(count(r, "sockserv_connections_open")).append("\n");
    text.append("Accepted connections: ").append(count(r, "sockserv_connections_accepted_total"));
    text.append("  datagrams: ").append(count(r, "sockserv_datagrams_received_total"));
    text.append("  requests: ").append(count(r, "sockserv_requests_total"));
    text.append("  failed: ").append(failed_text).append("\n");
    text.append("Paused serving loops (at a limit): ").append(count(r, "sockserv_accept_paused")).append("\n");
    text.append("Threads: ").append(count(r, "sockserv_request_threads"));
    text.append("  children: ").append(count(r, "sockserv_request_children"));
    text.append("  fibers: ").append(count(r, "sockserv_request_fibers")).append("\n");
    text.append("Workers: ").append(count(r, "sockserv_workers"));
    text.append("  restarts: ").append(count(r, "sockserv_worker_restarts_total"));
    text.append("  reloads: ").append(count(r, "sockserv_reloads_total")).append("\n");
    return text;
}

void MetricsHandler::respond(std::string_view status, std::string_view type, std::string_view body, bool head_only,
                             std::string_view extra_headers) {
    std::string head = "HTTP/1.1 ";
    head.append(status).append("\r\nContent-Type: ").append(type);
    head.append("\r\nContent-Length: ").append(std::to_string(body.size()));
    head.append("\r\nConnection: close\r\n").append(extra_headers).append("\r\n");
    wfile().write(head);
    if (!head_only) wfile().write(body);
}

void MetricsHandler::handle() {
    // The head, whole, within 5 s in all (a slow sender cannot hold the connection) and 8 KiB.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::string_view head;
    for (;;) {
        head = rfile().buffered();
        const auto end = head.find("\r\n\r\n");
        const auto bare = head.find("\n\n");
        if (end != std::string_view::npos || bare != std::string_view::npos) break;
        if (head.size() > max_head) {
            respond("431 Request Header Fields Too Large", "text/plain", "request head too large\n", false);
            return lingering_close();
        }
        if (rfile().fill_before(deadline) == 0) return;  // closed before a whole head: nobody to answer
    }
    const std::string_view line = head.substr(0, head.find_first_of("\r\n"));
    const auto first_space = line.find(' ');
    const auto second_space = line.find(' ', first_space == std::string_view::npos ? 0 : first_space + 1);
    if (first_space == std::string_view::npos || second_space == std::string_view::npos ||
        !line.substr(second_space + 1).starts_with("HTTP/1.")) {
        respond("400 Bad Request", "text/plain", "not an HTTP/1 request\n", false);
        return lingering_close();
    }
    const std::string_view method = line.substr(0, first_space);
    std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
    target = target.substr(0, target.find('?'));
    const bool head_only = method == "HEAD";
    const bool known = target == "/metrics" || target == "/status";
    if (!known) {
        respond("404 Not Found", "text/plain", "not found: GET /metrics or /status\n", head_only);
    } else if (method != "GET" && !head_only) {
        respond("405 Method Not Allowed", "text/plain", "only GET (and HEAD)\n", false, "Allow: GET, HEAD\r\n");
    } else if (target == "/metrics") {
        respond("200 OK", "text/plain; version=0.0.4; charset=utf-8", state().registry().exposition(), head_only);
    } else {
        respond("200 OK", "text/plain; charset=utf-8", state().status(), head_only);
    }
    return lingering_close();
}

}  // namespace sockserv
