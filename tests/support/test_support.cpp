#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace test {

sockserv::Socket connect_stream(const sockserv::Address& address, std::chrono::milliseconds timeout) {
    sockserv::Socket socket(address.family(), SOCK_STREAM);
    socket.set_timeout(timeout);
    socket.connect(address);
    return socket;
}

TcpPair::TcpPair() {
    sockserv::Socket listener(AF_INET, SOCK_STREAM);
    listener.bind(sockserv::Address("127.0.0.1", 0));
    listener.listen(1);
    client = connect_stream(listener.local_address());
    server = listener.accept();
}

sockserv::Socket datagram_client(const sockserv::Address& to, std::chrono::milliseconds timeout) {
    sockserv::Socket socket(to.family(), SOCK_DGRAM);
    socket.set_timeout(timeout);
    if (to.is_unix()) {
        // An abstract name (leading NUL): nothing on disk to clean up, gone with the socket.
        static std::atomic<int> counter{0};
        const std::string name = std::string(1, '\0') + "sockserv-test-client-" + std::to_string(::getpid()) + "-" +
                                 std::to_string(counter++);
        socket.bind(sockserv::Address::unix_path(name));
    }
    return socket;
}

void hang_up(sockserv::Socket& socket) {
    socket.shutdown(SHUT_RDWR);
    socket.close();
}

std::string recv_exactly(const sockserv::Socket& socket, std::size_t count) {
    std::string out;
    char buffer[16384];
    while (out.size() < count) {
        const std::size_t n = socket.recv(buffer, std::min(sizeof buffer, count - out.size()));
        if (n == 0) break;
        out.append(buffer, n);
    }
    return out;
}

std::string recv_all(const sockserv::Socket& socket) {
    std::string out;
    char buffer[16384];
    while (const std::size_t n = socket.recv(buffer, sizeof buffer)) out.append(buffer, n);
    return out;
}

std::string datagram_roundtrip(const sockserv::Socket& client, const sockserv::Address& to, std::string_view data) {
    client.sendto(data, to);
    std::string buffer(65536, '\0');
    sockserv::Address from;
    const std::size_t n = client.recvfrom(buffer.data(), buffer.size(), from);
    buffer.resize(std::min(n, buffer.size()));
    return buffer;
}

void echo_once(const sockserv::Address& address) {
    auto client = connect_stream(address);
    client.send_all("ping\n");
    client.shutdown(SHUT_WR);
    REQUIRE(recv_all(client) == "ping\n");
}

std::pair<sockserv::Socket, sockserv::Socket> check_third_client_waits_for_a_worker(const sockserv::Address& address) {
    auto first = connect_stream(address);
    auto second = connect_stream(address);
    CHECK(recv_exactly(first, 3) == "hi\n");
    CHECK(recv_exactly(second, 3) == "hi\n");
    auto third = connect_stream(address, 300ms);  // connects (backlog) but is not served yet
    char byte;
    CHECK_THROWS_AS(third.recv(&byte, 1), sockserv::TimeoutError);
    hang_up(first);  // its worker ends; the loop notices, and accepts again
    third.set_timeout(10s);
    CHECK(recv_exactly(third, 3) == "hi\n");
    return {std::move(second), std::move(third)};
}

int open_fd_count() { return open_fd_count(::getpid()) - 1; }  // less the iterator's own fd

int open_fd_count(pid_t pid) {
    int count = 0;
    std::error_code error;  // the process may be gone: then 0
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error);
         !error && it != std::filesystem::directory_iterator(); it.increment(error))
        ++count;
    return count;
}

bool holds_connection_from(pid_t pid, std::uint16_t peer_port) {
    // Lines: "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...",
    // addresses as HEX_IP:HEX_PORT.
    std::vector<std::string> inodes;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::istringstream lines(read_file(table));
        std::string line;
        std::getline(lines, line);  // the header
        while (std::getline(lines, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
            fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
            const auto port_of = [](const std::string& address) {
                return static_cast<std::uint16_t>(std::stoul(address.substr(address.rfind(':') + 1), nullptr, 16));
            };
            if (!remote.empty() && port_of(remote) == peer_port && inode != "0") inodes.push_back("socket:[" + inode + "]");
        }
    }
    std::error_code error;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error);
         !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
        std::error_code unreadable;
        const std::string target = std::filesystem::read_symlink(it->path(), unreadable).string();
        if (std::find(inodes.begin(), inodes.end(), target) != inodes.end()) return true;
    }
    return false;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

int zombie_count() {
    int zombies = 0;
    const std::string self = std::to_string(::getpid());
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string stat = read_file("/proc/" + name + "/stat");
        const auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream fields(stat.substr(close + 2));
        std::string state, ppid;
        fields >> state >> ppid;
        if (ppid == self && state == "Z") ++zombies;
    }
    return zombies;
}

int thread_count() {
    int count = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++count;
    return count;
}

long rss_kib() {
    std::istringstream status(read_file("/proc/self/status"));
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sockserv-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

Process::Process(std::vector<std::string> argv, bool pipe_stdin, const PassSockets& pass) {
    int err[2];
    int in[2] = {-1, -1};
    if (::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    if (pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    // The environment is made before fork (no allocation in the child); LISTEN_PID's digits are
    // the child's pid, written in place once it is known.
    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        if (!pass.fds.empty() && (text.starts_with("LISTEN_PID=") || text.starts_with("LISTEN_FDS=") ||
                                  text.starts_with("LISTEN_FDNAMES=")))  // ours replace them
            continue;
        env.emplace_back(text);
    }
    std::size_t listen_pid = env.size();
    if (!pass.fds.empty()) {
        env.push_back("LISTEN_PID=" + std::string(20, '\0'));
        env.push_back("LISTEN_FDS=" + std::to_string(pass.fds.size()));
    }
    std::vector<char*> envp;
    for (auto& entry : env) envp.push_back(entry.data());
    envp.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
        ::dup2(err[1], STDERR_FILENO);
        if (pipe_stdin) ::dup2(in[0], STDIN_FILENO);
        else {
            const int devnull = ::open("/dev/null", O_RDONLY);
            ::dup2(devnull, STDIN_FILENO);
        }
        if (!pass.fds.empty()) {
            // Out of the way first (a passed fd may itself be 3 or 4), then to 3, 4, ... (dup2
            // clears close-on-exec).
            std::vector<int> high;
            for (const int fd : pass.fds) high.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 100));
            for (std::size_t i = 0; i < high.size(); ++i) ::dup2(high[i], 3 + static_cast<int>(i));
            char* digits = envp[listen_pid] + std::strlen("LISTEN_PID=");
            char reversed[20];
            int count = 0;
            for (pid_t pid = ::getpid(); pid > 0; pid /= 10) reversed[count++] = static_cast<char>('0' + pid % 10);
            for (int i = 0; i < count; ++i) digits[i] = reversed[count - 1 - i];
        }
        // A fresh process group: Ctrl-C in the terminal running the tests does not reach it twice.
        ::setpgid(0, 0);
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
    }
    ::close(err[1]);
    stderr_.reset(err[0]);
    if (pipe_stdin) {
        ::close(in[0]);
        stdin_.reset(in[1]);
    }
}

Process::~Process() {
    if (!status_) {
        ::kill(-pid_, SIGKILL);  // its whole group: a forking server's children too
        ::kill(pid_, SIGKILL);
        int status;
        ::waitpid(pid_, &status, 0);
    }
}

bool Process::read_stderr(std::chrono::milliseconds timeout) {
    pollfd fd{stderr_.get(), POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buffer[4096];
    const ssize_t n = ::read(stderr_.get(), buffer, sizeof buffer);
    if (n <= 0) return false;
    stderr_text_.append(buffer, static_cast<std::size_t>(n));
    return true;
}

std::vector<std::string> Process::wait_for_line(const std::string& pattern, std::chrono::milliseconds timeout) {
    const std::regex re(pattern);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        // Match whole lines only, from the first line not yet consumed by an earlier wait.
        std::size_t start = scanned_;
        for (std::size_t end; (end = stderr_text_.find('\n', start)) != std::string::npos; start = end + 1) {
            const std::string line = stderr_text_.substr(start, end - start);
            std::smatch match;
            if (std::regex_search(line, match, re)) {
                scanned_ = end + 1;
                return {match.begin(), match.end()};
            }
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || (!read_stderr(left) && std::chrono::steady_clock::now() >= deadline))
            throw std::runtime_error("no line matching '" + pattern + "' on stderr; it said:\n" + stderr_text_);
    }
}

sockserv::Address Process::wait_until_serving(std::chrono::milliseconds timeout) {
    const auto match = wait_for_line(R"(serving on (\S+))", timeout);
    return sockserv::Address::parse(match[1]);
}

void Process::signal(int signal) const { ::kill(pid_, signal); }

void Process::write_stdin(std::string_view data) {
    if (::write(stdin_.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
        throw std::runtime_error("write to child's stdin failed");
}

void Process::close_stdin() { stdin_.reset(); }

int Process::wait(std::chrono::milliseconds timeout) {
    if (status_) return *status_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t rc = ::waitpid(pid_, &status, WNOHANG);
        if (rc == pid_) {
            status_ = status;
            return status;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error("process " + std::to_string(pid_) + " did not exit in time");
        read_stderr(10ms);  // keep the pipe drained while waiting; also paces the loop
    }
}

std::string Process::stderr_text() {
    while (read_stderr(0ms)) {
    }
    return stderr_text_;
}

std::string shell_quote(const std::string& word) {
    std::string quoted = "'";
    for (const char c : word) {
        if (c == '\'') quoted += "'\\''";
        else quoted += c;
    }
    return quoted + "'";
}

CommandResult run_command(const std::string& command) {
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) throw std::runtime_error("popen " + command);
    CommandResult result{-1, {}};
    char buffer[4096];
    while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, n);
    const int status = ::pclose(pipe);
    if (WIFEXITED(status)) result.status = WEXITSTATUS(status);
    return result;
}

std::string run(const std::string& command) {
    CommandResult result = run_command(command);
    INFO(command);
    REQUIRE(result.status == 0);
    return std::move(result.output);
}

std::string binary(const std::string& name) {
    const char* dir = std::getenv("SOCKSERV_BIN_DIR");
    return std::string(dir ? dir : SOCKSERV_BIN_DIR) + "/" + name;
}

pid_t current_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

namespace {
bool blocked_in(pid_t tid, std::chrono::milliseconds timeout, std::initializer_list<long> calls, pid_t process = 0) {
    const std::string path =
        "/proc/" + (process ? std::to_string(process) : std::string("self")) + "/task/" + std::to_string(tid) + "/syscall";
    return eventually(
        [&] {
            std::istringstream fields(read_file(path));
            long number = -1;
            fields >> number;
            return std::find(calls.begin(), calls.end(), number) != calls.end();
        },
        timeout);
}
}  // namespace

bool blocked_in_poll(pid_t tid, std::chrono::milliseconds timeout) {
    return blocked_in(tid, timeout, {SYS_poll, SYS_ppoll, SYS_epoll_wait, SYS_epoll_pwait});
}

bool blocked_in_futex(pid_t tid, std::chrono::milliseconds timeout) { return blocked_in(tid, timeout, {SYS_futex}); }

bool blocked_in_sleep(pid_t tid, std::chrono::milliseconds timeout, pid_t process) {
    return blocked_in(tid, timeout, {SYS_nanosleep, SYS_clock_nanosleep}, process);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return condition();
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

std::vector<std::string> mode_arguments(const std::string& mode) {
    std::string name = mode;
    std::vector<std::string> workers;
    if (const auto slash = name.find("/w"); slash != std::string::npos) {
        workers = {"--workers", name.substr(slash + 2)};
        name.resize(slash);
    }
    std::vector<std::string> args{"--mode", name};
    if (const auto dash = name.find('-'); dash != std::string::npos)
        args = {"--mode", name.substr(0, dash), "--loops", name.substr(dash + 1)};
    args.insert(args.end(), workers.begin(), workers.end());
    return args;
}

std::vector<pid_t> pids_in(const std::string& text) {
    std::vector<pid_t> pids;
    std::istringstream words(text);
    for (long pid; words >> pid;) pids.push_back(static_cast<pid_t>(pid));
    return pids;
}

std::vector<pid_t> started_workers(Process& master) {
    const auto line = master.wait_for_line(R"(worker\(s\) in \S+ mode, pids ([0-9 ]+); master (\d+))");
    REQUIRE(std::stoi(line[2]) == master.pid());
    return pids_in(line[1]);
}

bool process_exists(pid_t pid) { return std::filesystem::exists("/proc/" + std::to_string(pid)); }

bool process_running(pid_t pid) {
    // A zombie is not running: it has exited and waits to be reaped.
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

}  // namespace test
