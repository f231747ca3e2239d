#include <sockserv/server/server_metrics.hpp>

#include <sockserv/base/error.hpp>

namespace sockserv {

namespace {
using metrics::Series;
}  // namespace

ServerMetrics::ServerMetrics(metrics::Registry& r)
    : connections_accepted(r.counter("sockserv_connections_accepted_total", "Connections accepted (stream servers).")),
      connections_open(r.gauge("sockserv_connections_open", "Connections being served now (stream servers).")),
      datagrams_received(r.counter("sockserv_datagrams_received_total", "Datagrams received (datagram servers).")),
      requests(r.counter("sockserv_requests_total",
                         "Requests handled, failed or not: a connection for a stream server, a datagram for a datagram server.",
                         Series{.also_per_worker = "sockserv_worker_requests_total"})),
      failed_handler(r.counter("sockserv_requests_failed_total", "Requests whose handler failed, by cause.",
                               Series{.labels = "cause=\"handler_exception\""})),
      failed_peer_gone(r.counter("sockserv_requests_failed_total", "", Series{.labels = "cause=\"peer_gone\""})),
      failed_timeout(r.counter("sockserv_requests_failed_total", "", Series{.labels = "cause=\"timeout\""})),
      request_seconds(r.histogram("sockserv_request_duration_seconds", "Time from a handler's start to its end.",
                                  {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60})),
      bytes_received(r.counter("sockserv_received_bytes_total", "Bytes received from clients (after TLS; datagrams whole).")),
      bytes_sent(r.counter("sockserv_sent_bytes_total", "Bytes sent to clients by handlers (before TLS).")),
      accept_paused(r.gauge("sockserv_accept_paused", "Serving loops not taking new requests now (at a limit).")),
      paused_connections(r.counter("sockserv_accept_pauses_total", "Times accepting paused, by the limit reached.",
                                   Series{.labels = "cause=\"connection_limit\""})),
      paused_fds(r.counter("sockserv_accept_pauses_total", "", Series{.labels = "cause=\"fd_limit\""})),
      paused_children(r.counter("sockserv_accept_pauses_total", "", Series{.labels = "cause=\"children_limit\""})),
      paused_threads(r.counter("sockserv_accept_pauses_total", "", Series{.labels = "cause=\"thread_limit\""})),
      threads(r.gauge("sockserv_request_threads", "Request threads alive (thread mode).")),
      children(r.gauge("sockserv_request_children", "Request child processes alive (fork mode).")),
      fibers(r.gauge("sockserv_request_fibers", "Request fibers alive (event mode).")),
      loop_rounds(r.counter("sockserv_event_loop_rounds_total", "Event loop rounds: one wait for events and what it found.")),
      longest_round(r.gauge("sockserv_event_loop_longest_round_seconds",
                            "The longest event loop round yet, in any loop of any process: a handler that blocks its loop shows here.",
                            Series{.maximum = true, .unit = 1e-9})) {}

void ServerMetrics::paused(Pause cause) const noexcept {
    switch (cause) {
    case Pause::connections: paused_connections.add(); break;
    case Pause::fds: paused_fds.add(); break;
    case Pause::children: paused_children.add(); break;
    case Pause::threads: paused_threads.add(); break;
    }
}

void ServerMetrics::request_ended(Ending ending, double seconds) const noexcept {
    requests.add();
    request_seconds.observe(seconds);
    switch (ending) {
    case Ending::served: break;
    case Ending::timeout: failed_timeout.add(); break;
    case Ending::peer_gone: failed_peer_gone.add(); break;
    case Ending::failed: failed_handler.add(); break;
    }
}

}  // namespace sockserv
