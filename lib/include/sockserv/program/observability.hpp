#pragma once
// Observability: what --metrics gives a program — its numbers and the listener that shows them.
//
// cli::parse() makes it, before anything forks: the registry in shared memory and the framework's
// series declared in it (ServerMetrics, the pool's), so every worker, child, thread and fiber
// counts into one set of numbers. serve<> then serves the listener in the program's own mode
// (in event mode on a thread of its own: serve.hpp's MetricsServers says why), beside the
// program's servers (every worker of a pool answers on it: any of them sees the whole program's
// numbers). MetricsHandler answers
//   GET /metrics   the Prometheus text exposition format 0.0.4
//   GET /status    a few lines for people, in the spirit of nginx's stub_status
// and anything else with 404 or 405 (or 400, 431 for a bad head). Each connection carries one
// request; one that sends nothing for 5 s is closed.

#include <sockserv/base/address.hpp>
#include <sockserv/process/metrics.hpp>
#include <sockserv/process/shared_memory.hpp>
#include <sockserv/process/worker_pool.hpp>
#include <sockserv/server/request_handler.hpp>
#include <sockserv/server/server_metrics.hpp>

#include <chrono>
#include <string>

namespace sockserv {

class Observability {
public:
    /// listen: where the listener serves (--metrics: PORT, HOST:PORT, [V6]:PORT or a Unix path).
    Observability(std::string program, Address listen);
    Observability(const Observability&) = delete;
    Observability& operator=(const Observability&) = delete;

    metrics::Registry& registry() noexcept { return *registry_; }
    const metrics::Registry& registry() const noexcept { return *registry_; }
    const ServerMetrics& server() const noexcept { return server_; }
    const PoolMetrics& pool() const noexcept { return pool_; }
    const Address& listen_address() const noexcept { return listen_; }
    const std::string& program() const noexcept { return program_; }

    /// GET /status's text.
    std::string status() const;
    /// --metrics's value as an address: a bare port is on loopback (127.0.0.1), never everywhere.
    /// Throws std::invalid_argument saying what is wrong.
    static Address parse_listen(const std::string& text);

private:
    std::string program_;
    Address listen_;
    Shared<metrics::Registry> registry_;
    ServerMetrics server_;
    PoolMetrics pool_;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

/// The --metrics listener's handler (see above).
class MetricsHandler : public WithState<StreamRequestHandler, const Observability> {
public:
    using WithState::WithState;
    void handle() override;

    /// The longest request head it reads.
    static constexpr std::size_t max_head = 8192;

protected:
    std::optional<std::chrono::milliseconds> timeout() const override { return std::chrono::seconds(5); }

private:
    void respond(std::string_view status, std::string_view type, std::string_view body, bool head_only,
                 std::string_view extra_headers = {});
};

}  // namespace sockserv
