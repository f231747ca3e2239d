#pragma once
// What the tests share: a server running on a thread that always stops, client sockets, child
// processes of the real binaries, and counters of fds, threads and zombies.

#include <sockserv/sockserv.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace test {

using namespace std::chrono_literals;

/// Runs server.serve_forever() on a thread; on destruction (even when an assertion failed)
/// shuts it down, joins, and closes the server.
template <class Server>
class Running {
public:
    explicit Running(Server& server) : server_(server), thread_([this] { server_.serve_forever(); }) {}
    ~Running() { stop(); }
    void stop() {
        if (!thread_.joinable()) return;
        server_.shutdown();
        thread_.join();
        server_.server_close();
    }
    Server& server() { return server_; }

private:
    Server& server_;
    std::thread thread_;
};

/// A connected client socket (TCP or Unix stream), with a receive time-out so no test hangs.
sockserv::Socket connect_stream(const sockserv::Address& address, std::chrono::milliseconds timeout = 10s);
/// A loopback TCP connection, both ends, with no server around it (a socketpair has no segments
/// and no TCP options to test). The client has connect_stream()'s time-out.
struct TcpPair {
    sockserv::Socket client;
    sockserv::Socket server;
    TcpPair();
};
/// An unconnected datagram socket bound to an ephemeral address of the family of `to` (Unix
/// clients get a temporary path, or the server could not answer).
sockserv::Socket datagram_client(const sockserv::Address& to, std::chrono::milliseconds timeout = 10s);
/// Ends a client connection for certain. A forked server child inherits every fd of the test
/// process, client sockets included, so close() alone would not make its peer see EOF.
void hang_up(sockserv::Socket& socket);
/// Reads until `count` bytes arrived or EOF.
std::string recv_exactly(const sockserv::Socket& socket, std::size_t count);
/// Reads until EOF.
std::string recv_all(const sockserv::Socket& socket);
/// One datagram round trip.
std::string datagram_roundtrip(const sockserv::Socket& client, const sockserv::Address& to, std::string_view data);

/// One connection to an echo server: a line out, the same line back, EOF. REQUIREs it.
void echo_once(const sockserv::Address& address);

/// The handler check_third_client_waits_for_a_worker expects: greets, then holds the connection (its
/// thread, child or fiber) until the client hangs up.
struct HoldingGreeter : sockserv::StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        wfile().write("hi\n");
        wfile().flush();
        std::string rest;
        while (rfile().readline(rest)) {
        }
    }
};

/// For a server limited to two workers whose handler writes "hi\n" and then holds the connection
/// until the client hangs up: two clients are served; a third is accepted by the kernel (backlog)
/// but not served until the first hangs up, and then is. Returns the second and third clients,
/// still connected.
std::pair<sockserv::Socket, sockserv::Socket> check_third_client_waits_for_a_worker(const sockserv::Address& address);

/// A file's whole contents ("" when it cannot be read).
std::string read_file(const std::filesystem::path& path);

/// Number of open fds of this process.
int open_fd_count();
/// fds the process `pid` has open.
int open_fd_count(pid_t pid);
/// Whether process `pid` holds (has accepted) the TCP connection whose peer is the local port
/// `peer_port` of this machine: the connection's socket inode (/proc/net/tcp, tcp6) among its fds.
bool holds_connection_from(pid_t pid, std::uint16_t peer_port);
/// Children of this process in state Z.
int zombie_count();
/// Threads of this process.
int thread_count();
/// Resident set size in KiB.
long rss_kib();

/// A fresh directory, removed with its contents on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

/// Sockets handed to a started program as systemd does: fds 3, 4, ... with LISTEN_FDS and
/// LISTEN_PID = its pid (names, LISTEN_FDNAMES, are systemd-socket-activate's --fdname).
struct PassSockets {
    std::vector<int> fds;
};

/// A real program started with a pipe on its stderr (and optionally stdin). Killed on destruction.
class Process {
public:
    explicit Process(std::vector<std::string> argv, bool pipe_stdin = false, const PassSockets& pass = {});
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    /// Waits for a stderr line matching pattern; returns the match and its groups, or throws
    /// after the time-out with what stderr said.
    std::vector<std::string> wait_for_line(const std::string& pattern, std::chrono::milliseconds timeout = 20s);
    /// For servers that print "serving on ADDR": the address.
    sockserv::Address wait_until_serving(std::chrono::milliseconds timeout = 20s);
    void signal(int signal) const;
    void write_stdin(std::string_view data);
    void close_stdin();
    /// Waits for exit; returns the raw wait status (use WIFEXITED/WEXITSTATUS). Throws on time-out.
    int wait(std::chrono::milliseconds timeout = 20s);
    /// Reads stderr for up to timeout (keeps a chatty program from blocking on a full pipe).
    void pump_stderr(std::chrono::milliseconds timeout) { read_stderr(timeout); }
    /// What pump_stderr() and the waits have read so far, without a copy.
    const std::string& stderr_read() const { return stderr_text_; }
    /// Everything read from stderr so far (reads what is pending first).
    std::string stderr_text();
    pid_t pid() const { return pid_; }

private:
    bool read_stderr(std::chrono::milliseconds timeout);
    pid_t pid_ = -1;
    sockserv::UniqueFd stderr_;
    sockserv::UniqueFd stdin_;
    std::string stderr_text_;
    std::size_t scanned_ = 0;
    std::optional<int> status_;
};

/// The whole numbers in text, as pids.
std::vector<pid_t> pids_in(const std::string& text);
/// The workers a pool's master names at start ("PROG: 2 worker(s) in MODE mode, pids A B; master
/// M"); REQUIREs that M is master's pid.
std::vector<pid_t> started_workers(Process& master);
/// Whether /proc has the process (a zombie too), and whether it runs (not a zombie).
bool process_exists(pid_t pid);
bool process_running(pid_t pid);

/// A word quoted for /bin/sh.
std::string shell_quote(const std::string& word);
/// What a shell command printed on stdout, and its exit status.
struct CommandResult {
    int status;  // the exit status; -1 when it did not exit normally
    std::string output;
};
CommandResult run_command(const std::string& command);
/// Runs a command and returns its stdout; REQUIREs exit status 0.
std::string run(const std::string& command);

/// The command line for a mode name as the tests spell it: "thread" -> --mode thread; "event-2" ->
/// --mode event --loops 2 (event mode with two loops); a "/wN" suffix adds --workers N
/// ("sync/w2": two sync-mode workers under a master).
std::vector<std::string> mode_arguments(const std::string& mode);

/// Threads a sanitizer runtime adds to every process (TSan's background thread), and how much
/// slower a sanitizer build runs, roughly: for tests that count threads or bound a wall time.
#if defined(__SANITIZE_THREAD__)
inline constexpr int sanitizer_threads = 1;
inline constexpr int sanitizer_slowdown = 10;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr int sanitizer_threads = 0;
inline constexpr int sanitizer_slowdown = 3;
#else
inline constexpr int sanitizer_threads = 0;
inline constexpr int sanitizer_slowdown = 1;
#endif

/// Path of a built program, from the build system (e.g. binary("echo_server")).
std::string binary(const std::string& name);

/// The calling thread's kernel thread id, for blocked_in_poll().
pid_t current_tid();
/// Waits until thread `tid` of this process is blocked in poll()/ppoll()/epoll_wait() (read from
/// /proc/self/task/TID/syscall): a server loop that is really waiting, not merely started.
bool blocked_in_poll(pid_t tid, std::chrono::milliseconds timeout = 10s);
/// The same for a thread waiting on a lock (futex).
bool blocked_in_futex(pid_t tid, std::chrono::milliseconds timeout = 10s);
/// The same for a thread asleep (nanosleep, clock_nanosleep: a handler blocking its loop), of this
/// process or (process != 0) of another.
bool blocked_in_sleep(pid_t tid, std::chrono::milliseconds timeout = 10s, pid_t process = 0);

/// Polls `condition` until true or the time-out; for state with no event to wait on (a counter in
/// /proc). Returns the last result.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s);

}  // namespace test
