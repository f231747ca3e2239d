#pragma once
// ThreadingMixIn<Server>: each request on its own thread (Python's ThreadingMixIn, with finished
// threads forgotten at once and live connections unblocked on close).

#include <sockserv/server/tcp_server.hpp>
#include <sockserv/server/udp_server.hpp>
#include <sockserv/modes/mode.hpp>
#include <sockserv/modes/request_threads.hpp>

#include <chrono>
#include <concepts>

namespace sockserv {

template <class Server>
class ThreadingMixIn : public Server {
    static_assert(std::derived_from<Server, BaseServer>,
                  "sockserv: ThreadingMixIn<Server> needs a server, e.g. ThreadingMixIn<TCPServer<Handler>>");

public:
    using Server::Server;

    /// Threads call back into the server: they must be gone before it is. (A subclass that
    /// overrides hooks must call server_close() first, as serve<> does.)
    ~ThreadingMixIn() override {
        threads_.unblock_connections();
        threads_.join_all();
    }

    void process_request(Request& request) override {
        const int fd = request.connection.fd();
        threads_.start(fd, [this, request = std::move(request)](RequestThreads::Ticket& ticket) mutable {
            this->finish_request_guarded(request);
            ticket.release_connection();
            this->shutdown_request(request);
        });
        if (const ServerMetrics* metrics = this->metrics()) metrics->threads.set(static_cast<std::int64_t>(threads_.count()));
    }

    void service_actions() override {
        threads_.reap();
        if (const ServerMetrics* metrics = this->metrics()) metrics->threads.set(static_cast<std::int64_t>(threads_.count()));
        Server::service_actions();
    }

    /// Drains the threads (drain.hpp: grace, unblock idle clients, cut off at stop_timeout, join —
    /// the join only when block_on_close and not daemon_threads), then closes the socket. A
    /// datagram server always joins: its threads reply through the socket being closed.
    void server_close() override {
        struct Threads final : RunningRequests {
            RequestThreads& threads;
            bool join_them;
            Threads(RequestThreads& t, bool j) : threads(t), join_them(j) {}
            bool wait_idle_until(std::chrono::steady_clock::time_point deadline) override {
                return threads.wait_idle_until(deadline);
            }
            void unblock_connections(bool cut_off) noexcept override { threads.unblock_connections(cut_off); }
            void join() override {
                if (join_them) threads.join_all();
            }
        } running{threads_, (this->config().block_on_close && !this->config().thread.daemon_threads) || Server::is_datagram};
        this->drain_requests(running);
        Server::server_close();
    }

    /// Request threads not yet joined.
    std::size_t active_threads() const noexcept { return threads_.count(); }

    bool accepting() const override {
        return threads_.count() < this->config().thread.max_threads && Server::accepting();
    }
    ServerMetrics::Pause accept_limit() const override {
        return threads_.count() >= this->config().thread.max_threads ? ServerMetrics::Pause::threads : Server::accept_limit();
    }
protected:
    /// A thread that has finished its request may still be exiting when the loop reaps; it is
    /// joined on a short retry rather than by blocking the loop.
    std::optional<std::chrono::milliseconds> service_due() const override {
        if (threads_.exiting()) return std::chrono::milliseconds{1};
        return Server::service_due();
    }

private:
    RequestThreads threads_{this->waker(), this->config().thread.thread_stack_size};
};

/// Thread mode's command-line options.
inline constexpr ModeOption thread_mode_options[] = {
    {"max-threads", "most request threads at once; beyond it new clients wait in the backlog", 1, 1'000'000, false,
     [](const ServerConfig& c) -> std::uint64_t { return c.thread.max_threads; },
     [](ServerConfig& c, std::uint64_t v) { c.thread.max_threads = v; }},
};

template <class H> using ThreadingTCPServer = ThreadingMixIn<TCPServer<H>>;
template <class H> using ThreadingUDPServer = ThreadingMixIn<UDPServer<H>>;
template <class H> using ThreadingUnixStreamServer = ThreadingMixIn<UnixStreamServer<H>>;
template <class H> using ThreadingUnixDatagramServer = ThreadingMixIn<UnixDatagramServer<H>>;

}  // namespace sockserv
