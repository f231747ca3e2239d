#pragma once
// ThreadingMixIn<Server>: each request on its own thread (Python's ThreadingMixIn, with finished
// threads forgotten at once and live connections unblocked on close).

#include <sockserv/server/tcp_server.hpp>
#include <sockserv/server/udp_server.hpp>
#include <sockserv/modes/worker_threads.hpp>

#include <chrono>
#include <concepts>

namespace sockserv {

template <class Server>
class ThreadingMixIn : public Server {
    static_assert(std::derived_from<Server, BaseServer>,
                  "sockserv: ThreadingMixIn<Server> needs a server, e.g. ThreadingMixIn<TCPServer<Handler>>");

public:
    using Server::Server;

    /// Workers call back into the server: they must be gone before it is. (A subclass that
    /// overrides hooks must call server_close() first, as serve<> does.)
    ~ThreadingMixIn() override {
        workers_.unblock_connections();
        workers_.join_all();
    }

    void process_request(Request& request) override {
        const int fd = request.connection.fd();
        workers_.start(fd, [this, request = std::move(request)](WorkerThreads::Ticket& ticket) mutable {
            this->finish_request_guarded(request);
            ticket.release_connection();
            this->shutdown_request(request);
        });
    }

    void service_actions() override {
        workers_.reap();
        Server::service_actions();
    }

    /// Unblocks workers reading from idle clients, cuts off those still running at stop_timeout,
    /// joins the workers (when block_on_close and not daemon_threads), then closes the socket. A datagram server always joins first: its workers
    /// reply through the socket being closed.
    void server_close() override {
        const auto began = std::chrono::steady_clock::now();
        if (this->config().close_grace.count() > 0) workers_.wait_idle_until(began + this->config().close_grace);
        workers_.unblock_connections();
        if (const auto cut_off = this->config().stop_timeout; cut_off && !workers_.wait_idle_until(began + *cut_off))
            workers_.unblock_connections(true);
        if ((this->config().block_on_close && !this->config().daemon_threads) || Server::is_datagram)
            workers_.join_all();
        Server::server_close();
    }

    /// Worker threads not yet joined.
    std::size_t active_threads() const noexcept { return workers_.count(); }

protected:
    bool accepting() const override {
        return workers_.count() < this->config().max_threads && Server::accepting();
    }
    /// A thread that has finished its request may still be exiting when the loop reaps; it is
    /// joined on a short retry rather than by blocking the loop.
    std::optional<std::chrono::milliseconds> service_due() const override {
        if (workers_.exiting()) return std::chrono::milliseconds{1};
        return Server::service_due();
    }

private:
    WorkerThreads workers_{this->waker(), this->config().thread_stack_size};
};

template <class H> using ThreadingTCPServer = ThreadingMixIn<TCPServer<H>>;
template <class H> using ThreadingUDPServer = ThreadingMixIn<UDPServer<H>>;
template <class H> using ThreadingUnixStreamServer = ThreadingMixIn<UnixStreamServer<H>>;
template <class H> using ThreadingUnixDatagramServer = ThreadingMixIn<UnixDatagramServer<H>>;

}  // namespace sockserv
