#pragma once
// ServerMetrics: the framework's own numbers, counted by the lifecycle and the modes for every
// program without a line of app code (--metrics shows them; README "Observing a running server").
// Declared once, before anything forks, in the program's metrics::Registry (shared memory); a
// server counts into them when ServerConfig::metrics points here, and counts nothing otherwise.
//
// A "request" is what the lifecycle hands one handler: a connection for a stream server (all the
// HTTP requests a kept-alive connection carries), a datagram for a datagram server.

#include <sockserv/process/metrics.hpp>

#include <exception>

namespace sockserv {

struct ServerMetrics {
    explicit ServerMetrics(metrics::Registry& registry);

    metrics::Counter connections_accepted;
    metrics::Gauge connections_open;
    metrics::Counter datagrams_received;
    metrics::Counter requests;  // also shown per worker: sockserv_worker_requests_total
    metrics::Counter failed_handler, failed_peer_gone, failed_timeout;
    metrics::Histogram request_seconds;
    metrics::Counter bytes_received, bytes_sent;
    metrics::Gauge accept_paused;
    metrics::Counter paused_connections, paused_fds, paused_children, paused_threads;
    metrics::Gauge threads, children, fibers;
    metrics::Counter loop_rounds;
    metrics::Gauge longest_round;  // nanoseconds, shown in seconds

    /// Why accepting paused: one label value of sockserv_accept_pauses_total.
    enum class Pause { connections, fds, children, threads };
    void paused(Pause cause) const noexcept;
    /// How a request ended: what escaped its handler, if anything, as the server caught it.
    enum class Ending { served, timeout, peer_gone, failed };
    void request_ended(Ending ending, double seconds) const noexcept;
};

}  // namespace sockserv
