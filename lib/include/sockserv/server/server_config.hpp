#pragma once
// ServerConfig: Python's socketserver class attributes, set per server instance.
//
//   sockserv::ThreadingTCPServer<Echo> server{{"127.0.0.1", 0}, {.request_queue_size = 64}};

#include <sockserv/base/network.hpp>
#include <sockserv/io/tls_context.hpp>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace sockserv {

struct ServerMetrics;

/// Thread mode's (ThreadingMixIn's) own settings.
struct ThreadModeConfig {
    /// Request threads alive at once. At the limit the server stops accepting (or receiving) until
    /// one finishes: a flood queues in the backlog or the socket buffer instead of growing threads
    /// without bound (Python has no limit, bpo-37193's cousin).
    std::size_t max_threads = 1024;
    /// Each thread's stack. Smaller than the usual 8 MiB because glibc keeps about 40 MiB of exited
    /// threads' stacks for reuse: at 512 KiB that is ~80 stacks, so a busy server reuses them
    /// instead of mapping and unmapping a stack per request (which measured as most of thread
    /// mode's cost at 8,000 requests/s). Raise it for handlers with deep stacks.
    std::size_t thread_stack_size = 512 * 1024;
    /// server_close() neither waits for nor joins the threads (they are detached).
    bool daemon_threads = false;
};

/// Fork mode's (ForkingMixIn's) own settings.
struct ForkModeConfig {
    /// Children alive at once. At the limit the server stops accepting (the loop is never blocked)
    /// until a child exits.
    std::size_t max_children = 256;
};

/// Event mode's (EventMode's) own settings.
struct EventModeConfig {
    /// Event loops, each a thread with its own epoll (0: one per CPU).
    std::size_t loops = 0;
    /// Each fiber's stack (a guard page lies below it; only the pages a fiber touches cost
    /// memory). Measured with the HTTP session, the deepest handler here, over a battery of
    /// requests (files, listings, ranges, 414, bad heads): it ran on 16 KiB in the release build and
    /// needed 48 KiB under ASan (32 KiB overflowed, reported). 64 KiB is 4x the first, room for the second.
    std::size_t fiber_stack_size = 64 * 1024;
    /// Requests (connections, or datagrams being handled) served at once; at the limit accepting
    /// pauses. 0: sized from the fd limit (half the soft RLIMIT_NOFILE, less a reserve).
    std::size_t max_connections = 0;
    /// A loop in one round this long is stalled (a handler that blocks its thread, a long
    /// computation): the other loops take over its accepting and are handed no connections of
    /// it until it goes round again. Only the first loop accepts while it keeps up
    /// (event_loops.hpp says why). Long against a round under load (a few ms at 10,000
    /// connections), short against what a client waiting to be accepted would notice.
    std::chrono::milliseconds stall_after{20};
    /// Stream servers whose clients speak first (HTTP, TLS, PROXY, echo): a connection gets its
    /// fiber, and the fiber its stack, only once its first bytes arrive — until then it costs the
    /// loop a few hundred bytes, not a stack page. Off by default: a handler that greets its client
    /// first would never start.
    bool start_on_first_bytes = false;
    /// With start_on_first_bytes: a connection that sends nothing for this long is closed without a
    /// handler (logged only when verbose). nullopt: it waits as long as the client.
    std::optional<std::chrono::milliseconds> first_bytes_timeout{};
};

/// Stream servers behind a load balancer that sends the PROXY protocol (HAProxy's send-proxy and
/// send-proxy-v2, nginx-stream, AWS NLB, Envoy): each connection starts with a header naming the
/// real client, which client_address() then is.
struct ProxyProtocolConfig {
    /// Off by default: a header from anyone could forge any address.
    bool enabled = false;
    /// Who may send one: a connection from elsewhere is refused and logged.
    std::vector<Network> trusted = Network::loopback();
    /// How long a connection may take to send its header, in all (a slow sender cannot hold it).
    std::chrono::milliseconds deadline{3000};
};

struct ServerConfig {
    /// listen() backlog. Python's 5 leaves busy clients waiting in SYN retries; SOMAXCONN does not.
    int request_queue_size = SOMAXCONN;
    /// SO_REUSEADDR on stream sockets, so a restarted server can bind at once.
    bool allow_reuse_address = true;
    /// SO_REUSEPORT.
    bool allow_reuse_port = false;
    /// For an IPv6 wildcard address ("::"): also accept IPv4 (IPV6_V6ONLY off).
    bool dual_stack = false;
    /// TCP servers: TCP_NODELAY, set once on the listener: every connection inherits it (Linux
    /// copies a listener's options to what it accepts), so a handler that disables Nagle's
    /// algorithm (disable_nagle_algorithm()) makes no setsockopt per connection.
    bool tcp_nodelay = false;
    /// Stream servers: SO_SNDBUF for every connection, set once on the listener (0: the kernel's).
    int send_buffer_size = 0;
    /// TCP servers: TCP_DEFER_ACCEPT on the listener (Apache's default on Linux, nginx's
    /// `listen ... deferred`): the kernel hands over a connection once its first bytes arrive, so
    /// a request costs one wake-up fewer (event mode with start_on_first_bytes also starts its
    /// fiber at once); measured, 10-20% more Connection: close requests a second. For clients that
    /// speak first. The cost is the silent ones': the kernel holds them about a second, then
    /// passes them on at its own pace, in no promised order, and under a flood of thousands it
    /// may drop some (their first bytes then meet a reset).
    bool defer_accept = false;
    /// Datagram servers: bytes kept of each datagram; larger ones arrive marked truncated().
    std::size_t max_packet_size = 8192;
    /// ForkingMixIn / ThreadingMixIn: server_close() waits for the children / threads.
    bool block_on_close = true;
    /// handle_request(): how long to wait for a request before handle_timeout(). nullopt: forever.
    std::optional<std::chrono::milliseconds> timeout{};
    /// serve_forever(): call service_actions() at least this often even when idle. nullopt: only
    /// when something happened (there is no poll interval unless you ask for one).
    std::optional<std::chrono::milliseconds> service_interval{};
    /// Also report what is normal life (peers vanishing, time-outs) on stderr.
    bool verbose = false;
    /// Bind and listen in the constructor (Python's bind_and_activate).
    bool bind_and_activate = true;
    /// A socket made elsewhere to serve on (a worker pool's master bound it, or systemd): the
    /// server serves a duplicate of it instead of binding its own, and the caller keeps this fd.
    /// It must be of the transport's family and type, bound, and listening for a stream; the
    /// server's address is read back from it. -1: make and bind one.
    int inherited_socket = -1;
    /// Numbers requests (Request::sequence) from this counter instead of the server's own: a
    /// worker pool's workers share one in shared memory, so an ArrivalOrder holds across them.
    std::atomic<std::uint64_t>* request_numbers = nullptr;
    /// Also counts the requests served here (in shared memory: a pool's master reads each
    /// worker's count).
    std::atomic<std::uint64_t>* request_tally = nullptr;
    /// After this many requests the server stops as if shutdown() were called (0: never). A pool
    /// recycles its workers with it.
    std::uint64_t max_requests = 0;
    /// server_close(): how long requests in progress get to end by themselves before idle clients
    /// are cut off. A kept-alive client's next request is still answered meanwhile (stopping() is
    /// true, so the handler closes after it): a pool's reload drains workers so, without a reset
    /// connection. 0: cut idle clients off at once.
    std::chrono::milliseconds close_grace{0};
    /// server_close(): requests still in progress this long after it began are cut off — their
    /// connections shut down both ways, so a handler blocked sending to a client that does not
    /// read fails (EPIPE) and ends — in thread, fork and event mode, and in sync mode when
    /// shutdown() is called from another thread. nullopt: they take as long as they take.
    std::optional<std::chrono::milliseconds> stop_timeout{};

    /// Read a PROXY protocol header at the start of every connection (stream servers).
    ProxyProtocolConfig proxy_protocol{};
    /// Stream servers: every connection is TLS with this context (certificate, key, policy); the
    /// handshake runs where the connection starts, on the request's own thread, child or fiber,
    /// within the context's handshake_timeout. Empty: plain.
    std::shared_ptr<const tls::ServerContext> tls{};

    /// The framework's metrics (server_metrics.hpp), counted here when set: made before anything
    /// forks, in shared memory, by the program (--metrics). Empty: nothing counted.
    const ServerMetrics* metrics = nullptr;
    /// Each mode's own settings, used only by that mode.
    ThreadModeConfig thread{};
    ForkModeConfig fork{};
    EventModeConfig event{};
};

}  // namespace sockserv
