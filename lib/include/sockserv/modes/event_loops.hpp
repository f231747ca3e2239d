#pragma once
// EventLoops: the threads of event mode — N event loops serving one or more servers.
//
//   loop 0 (the thread that calls serve)     loop 1 .. N-1 (threads of their own)
//     epoll: each server's listener            epoll: each server's listener, on standby
//            (accepting)                              (EPOLLONESHOT: heard, not accepted)
//            each server's waker                      each server's waker
//            the servers' readers (stdin...)
//     fibers: requests + the service fiber     fibers: requests handed over by loop 0
//       (service_actions, after every round
//        and whenever another loop finished a request)
//
// Loop 0 accepts, one connection per round, and hands a connection to another loop when that one
// serves at least two fewer (balance()): a connection lives on the loop that starts its fiber. The
// other loops do not accept while loop 0 keeps up. Why: with every loop listening, a connection
// cost the server about a third more CPU at a load one core could carry (README, Benchmarks:
// `Connection: close`). They stand by instead:
// each hears that a connection waits (EPOLLONESHOT, re-armed at most every stall_after), and once
// loop 0 has been in one round for stall_after (EventModeConfig::stall_after: a handler that
// blocks its thread, a long computation) it takes over, accepting with EPOLLEXCLUSIVE — the
// kernel passes over a loop that is not waiting — until loop 0 goes round again.
//
// A datagram socket is read by loop 0 alone, its requests' fibers started there in arrival order.
// Why: datagram handlers are short, and ordered ones (ArrivalOrder: the chat) would otherwise wait
// for each other's turns across loops — measured with 100,000 junk datagrams against 3 chatting
// members, one loop delivered 99.6% of their lines during the flood, two loops sharing the socket
// 46%. The servers' hooks (get_request, verify_request, process_request, service_actions) still
// run one at a time, as in every mode: each server has a mutex its loops take around them.
//
// EventLoops is event mode's ServingLoop (serving_loop.hpp), and close() drains its fibers with
// the same drain() as every mode (drain.hpp).
//
// Thread safety: add() and serve() from one thread; close() after serve() has returned, from the
// same or another thread. request_started/request_finished from any loop.

#include <sockserv/engine/event_loop.hpp>
#include <sockserv/server/base_server.hpp>
#include <sockserv/server/drain.hpp>
#include <sockserv/server/serving_loop.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace sockserv {


class EventLoops final : public ServingLoop, private RunningRequests {
public:
    /// loops: 0 = one per CPU. max_connections: requests served at once (a datagram being handled
    /// counts as one); 0 = from the fd limit (the soft limit is first raised to the hard one: an
    /// event-mode server is meant to hold many connections). stall_after: EventModeConfig's.
    EventLoops(std::size_t loops, std::size_t fiber_stack_size, std::size_t max_connections,
               std::chrono::milliseconds stall_after = std::chrono::milliseconds{20});
    /// close().
    ~EventLoops();
    EventLoops(const EventLoops&) = delete;
    EventLoops& operator=(const EventLoops&) = delete;

    /// Serves server too, on the same loops. Before serve().
    void add(BaseServer& server);
    /// Serves every server added until `primary` is asked to stop; loop 0 runs on this thread. The
    /// other loops keep running what they have started until close().
    void serve(BaseServer& primary) override;
    /// Stops accepting, drains the fibers (drain.hpp: `grace`, unblock idle clients, cut off at
    /// `stop_timeout`, every fiber finishes) and stops the threads. Idempotent.
    void close(std::chrono::milliseconds grace = {}, std::optional<std::chrono::milliseconds> stop_timeout = {});

    std::size_t size() const noexcept { return count_; }
    std::size_t max_connections() const noexcept { return max_connections_; }
    /// Requests being served now, on every loop.
    std::size_t live_connections() const noexcept { return live_.load(std::memory_order_relaxed); }
    /// Where a connection accepted on `here` should live: here, unless another loop serves at
    /// least two fewer requests and is not stalled (a stalled loop takes no more). Why: one loop
    /// accepts, so a burst of connects (wrk's 16) would all land on it and leave the other core
    /// idle; handing a connection over costs one post, once per connection.
    EventLoop& balance(EventLoop& here) noexcept;

    /// A request's fiber began / ended on `loop` (EventMode's process_request). Thread safe.
    void request_started(EventLoop& loop) noexcept;
    void request_finished(EventLoop& loop) noexcept;
    /// A line for the start banner: "2 loops, at most 32736 connections at once".
    std::string describe() const;

private:
    // RunningRequests, for close()'s drain. wait_idle_until runs loop 0 (this thread) meanwhile.
    bool wait_idle_until(EventLoop::Clock::time_point deadline) override;
    void unblock_connections(bool cut_off) noexcept override;  // on every loop, on its own thread
    void join() override;  // every fiber finishes, the threads stop
    struct Served {
        BaseServer* server;
        std::mutex hooks;  // get/verify/process_request run one at a time, as in every mode
    };
    // How a loop hears one server's listener.
    enum class Listening : unsigned char { no, accepting, standing_by, taking_over };
    struct Listener {
        Listening how = Listening::no;
        bool heard = false;  // standing by: a connection waited; heard again from rearm_at
        EventLoop::Clock::time_point rearm_at{};
    };
    struct Loop {
        std::unique_ptr<EventLoop> loop;
        std::thread thread;
        std::vector<Listener> listening;  // per server
        std::uint64_t finished_seen = 0;
    };
    void run_loop(std::size_t index, bool primary);
    void prepare(std::size_t index);
    std::optional<EventLoop::Clock::duration> after_round(std::size_t index);
    void dispatch(Served& served);
    void listen(std::size_t index, std::size_t server, Listening how);
    bool stalled(std::size_t index, EventLoop::Clock::time_point now) const noexcept;
    void sync_readers();
    void start_service_fiber();

    std::size_t count_;
    std::size_t fiber_stack_size_;
    std::size_t max_connections_;
    std::chrono::milliseconds stall_after_;  // a loop in one round this long is stalled
    std::vector<std::unique_ptr<Served>> servers_;
    BaseServer* primary_ = nullptr;
    std::vector<Loop> loops_;
    bool started_ = false;
    bool closed_ = false;
    std::atomic<bool> accepting_{false};
    std::atomic<bool> closing_{false};
    std::atomic<std::size_t> live_{0};
    std::unique_ptr<std::atomic<std::size_t>[]> loads_;  // requests per loop
    std::size_t index_of(const EventLoop& loop) const noexcept;
    std::atomic<bool> service_wanted_{false};
    // Listener and waker events on any loop: loop 0 runs service_actions after a round that saw one.
    std::atomic<std::uint64_t> serving_events_{0};
    std::uint64_t serving_events_seen_ = 0;
    EventLoop::Signal service_signal_;
    // Loop 0's readers: which are watched, which have a fiber reading them right now.
    std::uint64_t readers_version_seen_ = ~std::uint64_t{0};
    std::vector<std::pair<BaseServer*, int>> watched_readers_;
    std::vector<std::pair<BaseServer*, int>> busy_readers_;
};

}  // namespace sockserv
