// tftp_server as users meet it: the real binary in each mode, and the real clients — tftp-hpa's
// tftp, curl, atftp, busybox tftp — plus tftp_client for the TCP service and over UDP.

#include "client.hpp"
#include "packet.hpp"
#include "framing.hpp"
#include "../../support/every_mode.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

using namespace std::chrono_literals;
using sockserv::Address;
using sockserv::Socket;
using test::shell_quote;

namespace {


std::string make_bytes(std::size_t size, unsigned seed) {
    std::mt19937 random(seed);
    std::string out(size, '\0');
    for (char& c : out) c = static_cast<char>(random() & 0xFF);
    return out;
}

struct Dirs {
    test::TempDir served, local;
    void put_file(const std::string& name, const std::string& bytes) const {
        std::ofstream(served / name, std::ios::binary) << bytes;
    }
    std::vector<std::string> served_names() const {
        std::vector<std::string> names;
        for (const auto& entry : std::filesystem::directory_iterator(served.path()))
            names.push_back(entry.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
};

class TftpServer {
public:
    /// short_dally: --dally 0.2 unless extra sets it (the default 10 s is for real clients' losses).
    TftpServer(const Dirs& dirs, const std::string& mode, std::vector<std::string> extra = {}, bool short_dally = true)
        : process_(argv(dirs, mode, std::move(extra), short_dally)) {
        address_ = process_.wait_until_serving();
    }
    std::string port() const { return std::to_string(address_.port()); }
    const Address& address() const { return address_; }
    test::Process& process() { return process_; }

private:
    static std::vector<std::string> argv(const Dirs& dirs, const std::string& mode, std::vector<std::string> extra,
                                         bool short_dally) {
        std::vector<std::string> args{test::binary("tftp_server"), "--port", "0", "-d", dirs.served.path().string()};
        const auto mode_args = test::mode_arguments(mode);
        args.insert(args.end(), mode_args.begin(), mode_args.end());
        // A short dally keeps sync mode quick between uploads.
        if (short_dally && std::find(extra.begin(), extra.end(), "--dally") == extra.end())
            extra.insert(extra.end(), {"--dally", "0.2"});
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    test::Process process_;
    Address address_;
};

// After a stop signal at stop_at: the server exits 0 within 2 s (more under sanitizers).
void check_exits_cleanly_within_2s(TftpServer& server, std::chrono::steady_clock::time_point stop_at) {
    const int status = server.process().wait(2s * test::sanitizer_slowdown);
    CHECK(std::chrono::steady_clock::now() - stop_at < 2s * test::sanitizer_slowdown);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

std::string in(const Dirs& dirs, const std::string& name) { return shell_quote((dirs.local / name).string()); }

// Each real client: a download and an upload command.
struct Client {
    const char* name;
    std::string (*get)(const std::string& port, const std::string& remote, const std::string& local);
    std::string (*put)(const std::string& port, const std::string& local, const std::string& remote);
};

const Client clients[] = {
    {"tftp-hpa",
     [](const std::string& port, const std::string& r, const std::string& l) {
         return "tftp 127.0.0.1 " + port + " -m octet -c get " + shell_quote(r) + " " + l;
     },
     [](const std::string& port, const std::string& l, const std::string& r) {
         return "tftp 127.0.0.1 " + port + " -m octet -c put " + l + " " + shell_quote(r);
     }},
    // --max-time 18: curl derives the timeout option it asks from it (18 / 3 retries), and asks
    // timeout=6 as with its default 300 s — which it then waits about 6.2 s.
    {"curl",
     [](const std::string& port, const std::string& r, const std::string& l) {
         return "curl -sS --max-time 18 -o " + l + " tftp://127.0.0.1:" + port + "/" + r;
     },
     [](const std::string& port, const std::string& l, const std::string& r) {
         return "curl -sS --max-time 18 -T " + l + " tftp://127.0.0.1:" + port + "/" + r;
     }},
    {"atftp",
     [](const std::string& port, const std::string& r, const std::string& l) {
         return "atftp -g -r " + shell_quote(r) + " -l " + l + " 127.0.0.1 " + port;
     },
     [](const std::string& port, const std::string& l, const std::string& r) {
         return "atftp -p -l " + l + " -r " + shell_quote(r) + " 127.0.0.1 " + port;
     }},
    {"busybox",
     [](const std::string& port, const std::string& r, const std::string& l) {
         return "busybox tftp -g -r " + shell_quote(r) + " -l " + l + " 127.0.0.1:" + port;
     },
     [](const std::string& port, const std::string& l, const std::string& r) {
         return "busybox tftp -p -l " + l + " -r " + shell_quote(r) + " 127.0.0.1:" + port;
     }},
};

void check_real_clients(const std::string& mode) {
    Dirs dirs;
    TftpServer server(dirs, mode, {"--allow-upload", "--create"});
    unsigned seed = 1;
    for (const Client& client : clients) {
        for (const std::size_t size : {0, 1, 511, 512, 513, 1024, 3 * 512 + 512}) {
            INFO(client.name << " size " << size);
            const std::string bytes = make_bytes(size, seed++);
            const std::string name = std::string(client.name) + "-" + std::to_string(size) + ".bin";
            dirs.put_file(name, bytes);
            const auto got = test::run_command(client.get(server.port(), name, in(dirs, name)) + " 2>&1");
            CHECK(got.status == 0);
            INFO(got.output);
            CHECK(test::read_file(dirs.local / name) == bytes);

            const std::string uploaded = "up-" + name;
            const auto put = test::run_command(client.put(server.port(), in(dirs, name), uploaded) + " 2>&1");
            INFO(put.output);
            CHECK(put.status == 0);
            CHECK(test::eventually([&] { return std::filesystem::exists(dirs.served / uploaded); }));
            CHECK(test::read_file(dirs.served / uploaded) == bytes);
        }
    }
}

void check_big_files(const std::string& mode) {
    Dirs dirs;
    TftpServer server(dirs, mode, {"--allow-upload", "--create"});
    const std::string big = make_bytes(40 * 1024 * 1024, 40);
    dirs.put_file("big.bin", big);
    // 40 MiB at 512-byte blocks is 81,920 blocks: the block number wraps past 65535.
    test::run("tftp 127.0.0.1 " + server.port() + " -m octet -c get big.bin " + in(dirs, "big.bin"));
    CHECK(test::read_file(dirs.local / "big.bin") == big);
    test::run("curl -sS --max-time 120 -T " + in(dirs, "big.bin") + " tftp://127.0.0.1:" + server.port() + "/big-up.bin");
    CHECK(test::eventually([&] { return std::filesystem::exists(dirs.served / "big-up.bin"); }));
    CHECK(test::read_file(dirs.served / "big-up.bin") == big);
}

void check_errors(const std::string& mode) {
    Dirs dirs;
    dirs.put_file("exists.txt", "x");
    TftpServer server(dirs, mode);  // uploads off
    const auto missing = test::run_command("tftp 127.0.0.1 " + server.port() + " -c get nope.txt " + in(dirs, "n") + " 2>&1");
    CHECK(missing.output.find("Error code 1") != std::string::npos);
    const auto traversal =
        test::run_command("tftp 127.0.0.1 " + server.port() + " -c get ../../etc/passwd " + in(dirs, "p") + " 2>&1");
    CHECK(traversal.output.find("Error code 2") != std::string::npos);
    const auto absolute = test::run_command("atftp -g -r /etc/passwd -l " + in(dirs, "p2") + " 127.0.0.1 " + server.port() + " 2>&1");
    CHECK(absolute.status != 0);
    CHECK(test::read_file(dirs.local / "p2").find("root:") == std::string::npos);  // (atftp leaves an empty file)
    const auto refused =
        test::run_command("curl -sS --max-time 20 -T " + shell_quote((dirs.served / "exists.txt").string()) +
                          " tftp://127.0.0.1:" + server.port() + "/new.txt 2>&1");
    CHECK(refused.status != 0);  // curl shows the code, not the server's text
    const auto refused_hpa = test::run_command("tftp 127.0.0.1 " + server.port() + " -c put " +
                                               shell_quote((dirs.served / "exists.txt").string()) + " new.txt 2>&1");
    CHECK(refused_hpa.output.find("Error code 2: uploads are off") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dirs.served / "new.txt"));
    // Still serving.
    test::run("tftp 127.0.0.1 " + server.port() + " -c get exists.txt " + in(dirs, "ok.txt"));
    CHECK(test::read_file(dirs.local / "ok.txt") == "x");
}

void check_parallel_and_stalled(const std::string& mode) {
    Dirs dirs;
    const std::string bytes = make_bytes(2 * 1024 * 1024, 8);
    dirs.put_file("shared.bin", bytes);
    TftpServer server(dirs, mode);
    // A client that asks and then never acknowledges anything: it holds one transfer, not the server.
    Socket stalled(AF_INET, SOCK_DGRAM);
    stalled.sendto(tftp::encode_request({false, "shared.bin", "octet", {}}), server.address());
    std::string command;
    for (int i = 0; i < 8; ++i)
        command += "curl -sS --max-time 30 -o " + in(dirs, "copy" + std::to_string(i)) + " tftp://127.0.0.1:" +
                   server.port() + "/shared.bin & ";
    const auto started = std::chrono::steady_clock::now();
    test::run(command + "wait");
    CHECK(std::chrono::steady_clock::now() - started < 15s);
    for (int i = 0; i < 8; ++i) CHECK(test::read_file(dirs.local / ("copy" + std::to_string(i))) == bytes);
}

// A UDP relay between a client and the server that drops every `nth` packet each way. The client
// talks to one relay port; the relay follows the server's transfer port once it answers. One relay
// carries one transfer (an earlier one may still be retrying its last block on another port).
class LossyRelay {
public:
    /// Decides a packet's fate: its number in the relay's count (1, 2, ...), whether it comes from
    /// the server, and its bytes; true drops it.
    using Drop = std::function<bool(int count, bool from_server, std::string_view packet)>;

    /// Drops every nth packet, either way.
    LossyRelay(Address server, int nth) : LossyRelay(std::move(server), [nth](int count, bool, std::string_view) {
        return count % nth == 0;
    }) {}
    LossyRelay(Address server, Drop drop) : server_(std::move(server)), drop_(std::move(drop)) {
        front_.bind(Address("127.0.0.1", 0));
        back_.bind(Address("127.0.0.1", 0));
        thread_ = std::thread([this] { run(); });
    }
    ~LossyRelay() {
        stop_ = true;
        thread_.join();
    }
    std::string port() const { return std::to_string(front_.local_address().port()); }
    int dropped() const { return dropped_; }

private:
    void run() {
        Address client, server_now = server_;
        char buffer[70000];
        int count = 0;
        while (!stop_) {
            pollfd fds[2] = {{front_.fd(), POLLIN, 0}, {back_.fd(), POLLIN, 0}};
            if (::poll(fds, 2, 50) <= 0) continue;
            for (int i = 0; i < 2; ++i) {
                if (!(fds[i].revents & POLLIN)) continue;
                Address from;
                const std::size_t n = std::min<std::size_t>((i == 0 ? front_ : back_).recvfrom(buffer, sizeof buffer, from), sizeof buffer);
                if (drop_(++count, i == 1, std::string_view(buffer, n))) {
                    ++dropped_;
                    continue;
                }
                if (i == 0) {
                    client = from;
                    // A new request goes to the server's port; the rest to the transfer's own port.
                    const bool request = n >= 2 && buffer[0] == 0 && (buffer[1] == 1 || buffer[1] == 2);
                    back_.sendto(std::string_view(buffer, n), request ? server_ : server_now);
                } else {
                    server_now = from;  // the transfer's own port, once it answers
                    front_.sendto(std::string_view(buffer, n), client);
                }
            }
        }
    }
    Address server_;
    Drop drop_;
    Socket front_{AF_INET, SOCK_DGRAM}, back_{AF_INET, SOCK_DGRAM};
    std::atomic<bool> stop_{false};
    std::atomic<int> dropped_{0};
    std::thread thread_;
};

}  // namespace

#define TFTP_MODE_TESTS(MODE)                                                                                          \
    TEST_CASE("tftp-hpa - curl - atftp and busybox download and upload every awkward size - " MODE,                   \
              "[tftp][app][" MODE "]") {                                                                               \
        check_real_clients(MODE);                                                                                      \
    }                                                                                                                  \
    TEST_CASE("40 MiB down and up with checksums (block numbers roll over) - " MODE, "[tftp][app][" MODE "]") {       \
        check_big_files(MODE);                                                                                         \
    }                                                                                                                  \
    TEST_CASE("clients see missing files - traversal and refused uploads as TFTP errors - " MODE,                     \
              "[tftp][app][" MODE "]") {                                                                               \
        check_errors(MODE);                                                                                            \
    }

TEST_EVERY_APP_MODE("tftp-hpa - curl - atftp and busybox download and upload every awkward size", "[tftp][app]") {
    check_real_clients(mode);
}
TEST_EVERY_APP_MODE("40 MiB down and up with checksums (block numbers roll over)", "[tftp][app]") {
    check_big_files(mode);
}
TEST_EVERY_APP_MODE("clients see missing files - traversal and refused uploads as TFTP errors", "[tftp][app]") {
    check_errors(mode);
}
// --workers 2 (a socket per worker on the UDP port, one shared TCP listener): two modes of four,
// for the CI time budget; the pool itself is mode-blind and tested in every mode by lib_tests.
TFTP_MODE_TESTS("sync/w2")
TFTP_MODE_TESTS("event-1/w2")

TEST_EVERY_CONCURRENT_APP_MODE("8 parallel transfers while a stalled client holds one", "[tftp][app]") {
    check_parallel_and_stalled(mode);
}

TEST_CASE("options are negotiated with curl - atftp and tftp_client", "[tftp][app]") {
    Dirs dirs;
    const std::string bytes = make_bytes(1000000, 3);
    dirs.put_file("f.bin", bytes);
    TftpServer server(dirs, "thread", {"--allow-upload", "--create"});
    test::run("curl -sS --tftp-blksize 1428 -o " + in(dirs, "c.bin") + " tftp://127.0.0.1:" + server.port() + "/f.bin");
    CHECK(test::read_file(dirs.local / "c.bin") == bytes);
    CHECK_NOTHROW(server.process().wait_for_line(R"(RRQ "f\.bin" octet .*blksize=1428.*: done, 1000000 bytes)"));
    test::run("atftp --option 'blksize 8192' -g -r f.bin -l " + in(dirs, "a.bin") + " 127.0.0.1 " + server.port());
    CHECK(test::read_file(dirs.local / "a.bin") == bytes);
    CHECK_NOTHROW(server.process().wait_for_line(R"(RRQ "f\.bin" octet blksize=8192: done)"));
    test::run(shell_quote(test::binary("tftp_client")) + " --udp --blksize 65464 --windowsize 4 127.0.0.1 " +
              server.port() + " get f.bin " + in(dirs, "w.bin"));
    CHECK(test::read_file(dirs.local / "w.bin") == bytes);
    CHECK_NOTHROW(server.process().wait_for_line(R"(blksize=65464 windowsize=4 .*: done, 1000000 bytes)"));
    test::run(shell_quote(test::binary("tftp_client")) + " --udp --blksize 1428 --windowsize 8 127.0.0.1 " +
              server.port() + " put " + in(dirs, "w.bin") + " wput.bin");
    CHECK(test::eventually([&] { return std::filesystem::exists(dirs.served / "wput.bin"); }));
    CHECK(test::read_file(dirs.served / "wput.bin") == bytes);
    // blksize below 8 is refused with ERROR 8.
    Socket client(AF_INET, SOCK_DGRAM);
    client.set_timeout(5s);
    client.sendto(tftp::encode_request({false, "f.bin", "octet", {{"blksize", "4"}}}), server.address());
    char buffer[600];
    Address from;
    const std::size_t n = client.recvfrom(buffer, sizeof buffer, from);
    CHECK(std::get<tftp::Error>(tftp::parse(std::string_view(buffer, n))).code == tftp::option_refused);
}

TEST_CASE("lost packets in both directions are recovered by retransmission", "[tftp][app]") {
    Dirs dirs;
    const std::string bytes = make_bytes(300000, 9);
    dirs.put_file("lossy.bin", bytes);
    dirs.put_file("lossy-small.bin", bytes.substr(0, 100000));
    // The dally outlasts the client's time-out, so a lost final ACK is answered again.
    // Retries enough to outlast curl's own resend interval (it resends only every few seconds).
    TftpServer server(dirs, "thread", {"--allow-upload", "--create", "--timeout", "0.05", "--retries", "12", "--dally", "2"});
    int dropped = 0;
    const auto through_relay = [&](const std::string& command_before_port, const std::string& after) {
        LossyRelay relay(server.address(), 7);
        const auto result = test::run_command(command_before_port + relay.port() + after + " 2>&1");
        dropped += relay.dropped();
        return result;
    };
    const std::string client =
        shell_quote(test::binary("tftp_client")) + " --udp --timeout 0.05 --blksize 4096 127.0.0.1 ";
    auto result = through_relay(client, " get lossy.bin " + in(dirs, "lossy.bin"));
    INFO(result.output);
    CHECK(result.status == 0);
    CHECK(test::read_file(dirs.local / "lossy.bin") == bytes);
    result = through_relay(client, " put " + in(dirs, "lossy.bin") + " lossy-up.bin");
    INFO(result.output);
    CHECK(result.status == 0);
    CHECK(test::eventually([&] { return std::filesystem::exists(dirs.served / "lossy-up.bin"); }));
    CHECK(test::read_file(dirs.served / "lossy-up.bin") == bytes);
    // curl asks for "timeout 5" (RFC 2349), which the server then honours: each loss would cost
    // 5 s. Without options the server's own 50 ms retransmissions carry the transfer.
    result = through_relay("curl -sS --tftp-no-options --max-time 30 -o " + in(dirs, "lossy-curl.bin") +
                               " tftp://127.0.0.1:",
                           "/lossy-small.bin");
    CHECK(result.status == 0);
    CHECK(test::read_file(dirs.local / "lossy-curl.bin") == bytes.substr(0, 100000));
    CHECK(dropped > 20);
}

// Each real client uploads through a relay that drops the server's final ACK once: the client
// re-sends its last block and the server, still dallying, must answer it again — with the default
// --dally. tftp-hpa and atftp re-send after 5 s, busybox within 2 s, curl about 1.2 s after the
// timeout it asked for (6 s here, as by default): the old 6 s dally lost curl's uploads.
TEST_CASE("a lost final ACK is answered again within the default dally - every real client", "[tftp][app]") {
    Dirs dirs;
    TftpServer server(dirs, "thread", {"--allow-upload", "--create"}, false);
    const std::string bytes = make_bytes(700, 77);  // blocks of 512 and 188: the final ACK is ACK 2
    std::ofstream(dirs.local / "up.bin", std::ios::binary) << bytes;
    const auto final_ack_once = [dropped = false](int, bool from_server, std::string_view packet) mutable {
        if (dropped || !from_server || packet != tftp::encode_ack(2)) return false;
        return dropped = true;
    };
    struct Run {
        std::unique_ptr<LossyRelay> relay;
        test::CommandResult result;
    };
    std::vector<Run> runs(std::size(clients));
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        runs[i].relay = std::make_unique<LossyRelay>(server.address(), final_ack_once);
        const std::string command =
            clients[i].put(runs[i].relay->port(), in(dirs, "up.bin"), std::string("up-") + clients[i].name + ".bin");
        threads.emplace_back([&run = runs[i], command] { run.result = test::run_command(command + " 2>&1"); });
    }
    for (auto& thread : threads) thread.join();
    for (std::size_t i = 0; i < runs.size(); ++i) {
        INFO(clients[i].name << ": " << runs[i].result.output);
        CHECK(runs[i].relay->dropped() == 1);
        CHECK(runs[i].result.status == 0);
        CHECK(runs[i].result.output.find("timed out") == std::string::npos);  // tftp-hpa exits 0 on failure
        const auto uploaded = dirs.served / (std::string("up-") + clients[i].name + ".bin");
        CHECK(test::eventually([&] { return std::filesystem::exists(uploaded); }));
        CHECK(test::read_file(uploaded) == bytes);
    }
}

// Sync mode behind uploads that each dally 2 s, and 8 tftp-hpa clients at once that re-send their
// WRQ every 2 s and give up after 8 s: more than the server can serve in time. Each client it gets
// to while the client still waits is served (from its newest copy); the requests of clients that
// gave up are dropped, with a line saying so, and no transfer is started for them — before, each
// such request was served to nobody and held the server for its time-outs, and every request
// behind it grew older still. Afterwards a new client is served as usual.
TEST_CASE("sync mode - 8 parallel clients behind dallying uploads - none is served after it gave up", "[tftp][app][sync]") {
    Dirs dirs;
    TftpServer server(dirs, "sync", {"--allow-upload", "--create", "--dally", "2", "--request-max-age", "1"});
    const std::string bytes = make_bytes(700, 88);
    std::ofstream(dirs.local / "up.bin", std::ios::binary) << bytes;
    const auto put = [&](const std::string& remote, const std::string& settings) {
        return test::run_command("tftp 127.0.0.1 " + server.port() + " 2>&1 <<'END'\nmode octet\n" + settings +
                                 "put " + (dirs.local / "up.bin").string() + " " + remote + "\nquit\nEND\n");
    };
    constexpr int count = 8;
    std::vector<test::CommandResult> results(count);
    std::vector<std::thread> threads;
    for (int i = 0; i < count; ++i)
        threads.emplace_back([&, i] { results[i] = put("up-" + std::to_string(i) + ".bin", "rexmt 2\ntimeout 8\n"); });
    for (auto& thread : threads) thread.join();
    // The marker queues behind everything the eight sent: once it is done, all of that was read.
    const auto marker = put("marker.bin", "");
    INFO(marker.output);
    CHECK(marker.output.find("timed out") == std::string::npos);
    server.process().wait_for_line(R"(WRQ "marker\.bin" octet: done)", 40s);
    const std::string log = server.process().stderr_text();
    INFO(log);
    int served = 0;
    for (int i = 0; i < count; ++i) {
        const std::string name = "up-" + std::to_string(i) + ".bin";
        INFO(name << ": " << results[i].output);
        const bool gave_up = results[i].output.find("Transfer timed out") != std::string::npos;
        const auto line_for = [&](const std::string& outcome) {
            return log.find("WRQ \"" + name + "\" octet: " + outcome) != std::string::npos;
        };
        CHECK_FALSE(line_for("failed"));  // a transfer with nobody at the other end
        CHECK(line_for("done") == !gave_up);
        if (gave_up) {
            CHECK(line_for("dropped, waited"));
            CHECK_FALSE(std::filesystem::exists(dirs.served / name));
        } else {
            ++served;
            CHECK(test::read_file(dirs.served / name) == bytes);
        }
    }
    CHECK(served >= 2);  // one after another, each dally 2 s
    CHECK(served < count);  // (else the server was never behind, and nothing was tested)
}

// A 2 MiB tmpfs as the served directory (root only; the suite runs as root in CI): every client's
// upload of more than fits ends in ERROR 3, no partial or hidden file is left, and the server goes on.
TEST_CASE("uploads onto a full disk - ERROR 3 for every client - nothing left - the server goes on", "[tftp][app]") {
    Dirs dirs;
    const std::string served = dirs.served.path().string();
    if (::mount("tmpfs", served.c_str(), "tmpfs", 0, "size=2m") != 0) {
        WARN("cannot mount a tmpfs here (needs root): not checked");
        return;
    }
    struct Unmount {
        std::string path;
        ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
    } unmount{served};
    const std::string big = make_bytes(20 << 20, 3);  // 20 MB: old tftp_client died of SIGPIPE on 8 of 8 here
    std::ofstream(dirs.local / "big.bin", std::ios::binary) << big;
    TftpServer server(dirs, "thread", {"--allow-upload", "--create"});
    const auto nothing_left = [&] { return std::filesystem::is_empty(dirs.served.path()); };

    // tftp_client over TCP: the refusal comes mid-upload, while it still sends (it died of
    // SIGPIPE, exit 141, in 8 of 18 such runs): now the server's error and exit status 1, every time.
    const std::string tcp_client = shell_quote(test::binary("tftp_client")) + " 127.0.0.1 " + server.port();
    for (int run = 0; run < 5; ++run) {
        const auto put = test::run_command(tcp_client + " put " + in(dirs, "big.bin") + " big.bin 2>&1");
        INFO("run " << run << ": " << put.output);
        CHECK(put.status == 1);
        CHECK(put.output.find("disk full") != std::string::npos);
        CHECK(test::eventually(nothing_left));
    }
    // Over UDP, tftp-hpa and curl get ERROR 3 too.
    const auto hpa = test::run_command("tftp 127.0.0.1 " + server.port() + " -m octet -c put " + in(dirs, "big.bin") +
                                       " hpa.bin 2>&1");
    INFO(hpa.output);
    CHECK(hpa.output.find("disk full") != std::string::npos);
    CHECK(test::eventually(nothing_left));
    const auto curl = test::run_command("curl -sS --max-time 60 -T " + in(dirs, "big.bin") + " tftp://127.0.0.1:" +
                                        server.port() + "/curl.bin 2>&1");
    INFO(curl.output);
    CHECK(curl.status == 70);  // CURLE_REMOTE_DISK_FULL: curl's own name for TFTP's ERROR 3
    CHECK(test::eventually(nothing_left));

    // And it goes on: what fits is stored and served back.
    std::ofstream(dirs.local / "small.bin", std::ios::binary) << big.substr(0, 100000);
    test::run(tcp_client + " put " + in(dirs, "small.bin") + " small.bin");
    test::run(tcp_client + " get small.bin " + in(dirs, "back.bin"));
    CHECK(test::read_file(dirs.local / "back.bin") == big.substr(0, 100000));
}

// A client that asks for timeout=255 (RFC 2349 allows it) and vanishes: resends come at most
// --max-timeout apart, and the transfer is given up after --transfer-timeout of silence (with
// doubling from 255 s it held its worker for hours).
TEST_CASE("a vanished client's transfer is bounded - --max-timeout and --transfer-timeout", "[tftp][app]") {
    Dirs dirs;
    dirs.put_file("big.bin", make_bytes(100000, 5));
    TftpServer server(dirs, "thread", {"--max-timeout", "0.3", "--transfer-timeout", "1.5"});
    Socket client(AF_INET, SOCK_DGRAM);
    client.set_timeout(3s);
    char buffer[600];
    Address from;
    client.sendto(tftp::encode_request({false, "big.bin", "octet", {{"timeout", "255"}}}), server.address());
    const auto started = std::chrono::steady_clock::now();
    std::size_t n = client.recvfrom(buffer, sizeof buffer, from);
    REQUIRE(std::holds_alternative<tftp::OptionAck>(tftp::parse(std::string_view(buffer, n))));
    // Not answered: the OACK comes again within --max-timeout (plus slack), not 255 s later.
    n = client.recvfrom(buffer, sizeof buffer, from);
    CHECK(std::holds_alternative<tftp::OptionAck>(tftp::parse(std::string_view(buffer, n))));
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    server.process().wait_for_line(R"(big\.bin.*failed \(nothing from the peer for 1 s\))", 10s);
    CHECK(std::chrono::steady_clock::now() - started < 5s);
}

// A client whose program exits mid-download: the transfer's socket is connected to it, so the ICMP
// port unreachable answering the next resend ends the transfer then, not after every retry.
TEST_CASE("a client gone mid-transfer ends it at the next resend - ICMP port unreachable", "[tftp][app]") {
    Dirs dirs;
    dirs.put_file("big.bin", make_bytes(100000, 6));
    TftpServer server(dirs, "thread", {"--timeout", "0.2", "--retries", "5"});
    {
        Socket client(AF_INET, SOCK_DGRAM);
        client.set_timeout(5s);
        char buffer[600];
        Address from;
        client.sendto(tftp::encode_request({false, "big.bin", "octet", {}}), server.address());
        const std::size_t n = client.recvfrom(buffer, sizeof buffer, from);
        REQUIRE(std::get<tftp::Data>(tftp::parse(std::string_view(buffer, n))).block == 1);
    }  // closed: without the ICMP, 0.2 + 0.4 + 0.8 + 1.6 x 3 s of resends, then "timed out"
    CHECK_NOTHROW(server.process().wait_for_line(
        R"(RRQ "big\.bin" octet: failed \(the peer's port is closed \(ICMP port unreachable\)\), 512 bytes in )", 10s));
}

// SIGTERM while transfers are in progress (a download whose client went quiet after timeout=255,
// an upload cut short): each gets an ERROR within a second, the partial upload is removed, and
// the server exits 0 within 2 s. In sync mode the upload waits its turn behind the download, so
// only the download is in progress.
void check_stop_ends_transfers(const std::string& mode) {
    Dirs dirs;
    dirs.put_file("big.bin", make_bytes(100000, 6));
    TftpServer server(dirs, mode, {"--allow-upload", "--create"});
    const bool concurrent = mode.rfind("sync", 0) != 0;
    char buffer[600];
    Address from;
    const auto error_arrives = [&](const Socket& socket) {
        for (;;) {  // until the ERROR: a resend may come first; recvfrom's time-out fails the test
            const std::size_t n = socket.recvfrom(buffer, sizeof buffer, from);
            const auto packet = tftp::parse(std::string_view(buffer, n));
            if (const auto* error = std::get_if<tftp::Error>(&packet)) return error->message;
        }
    };
    Socket download(AF_INET, SOCK_DGRAM);
    download.set_timeout(10s);
    download.sendto(tftp::encode_request({false, "big.bin", "octet", {{"timeout", "255"}}}), server.address());
    std::size_t n = download.recvfrom(buffer, sizeof buffer, from);
    REQUIRE(std::holds_alternative<tftp::OptionAck>(tftp::parse(std::string_view(buffer, n))));
    download.sendto(tftp::encode_ack(0), from);
    n = download.recvfrom(buffer, sizeof buffer, from);
    REQUIRE(std::get<tftp::Data>(tftp::parse(std::string_view(buffer, n))).block == 1);  // and no ACK

    Socket upload(AF_INET, SOCK_DGRAM);
    upload.set_timeout(10s);
    if (concurrent) {
        upload.sendto(tftp::encode_request({true, "partial.bin", "octet", {{"timeout", "255"}}}), server.address());
        n = upload.recvfrom(buffer, sizeof buffer, from);
        REQUIRE(std::holds_alternative<tftp::OptionAck>(tftp::parse(std::string_view(buffer, n))));
        upload.sendto(tftp::encode_data(1, std::string(512, 'u')), from);
        n = upload.recvfrom(buffer, sizeof buffer, from);
        REQUIRE(std::get<tftp::Ack>(tftp::parse(std::string_view(buffer, n))).block == 1);
    }
    const auto stop_at = std::chrono::steady_clock::now();
    server.process().signal(SIGTERM);
    CHECK(error_arrives(download) == "the server is shutting down");
    if (concurrent) CHECK(error_arrives(upload) == "the server is shutting down");
    CHECK(std::chrono::steady_clock::now() - stop_at < 1s * test::sanitizer_slowdown);
    check_exits_cleanly_within_2s(server, stop_at);
    CHECK(dirs.served_names() == std::vector<std::string>{"big.bin"});  // no partial or hidden upload file
}

TEST_EVERY_APP_MODE("SIGTERM ends transfers in progress within 1 s and stops the server within 2 s", "[tftp][app]") {
    check_stop_ends_transfers(mode);
}
TEST_CASE("SIGTERM ends transfers in progress within 1 s and stops the server within 2 s - thread/w2", "[tftp][app][pool]") {
    check_stop_ends_transfers("thread/w2");
}

// The TCP file service at a stop: a client that stopped reading a get, one that stopped sending a
// put, one that never sent a command. Each is cut off within a second of SIGTERM, the partial
// upload is removed, and the server exits 0 within 2 s — before, the stalled get held it past
// 70 s in every mode (sync mode: an idle connection alone, 60 s). In sync mode the TCP side serves
// one connection at a time, so only the get is in progress there.
void check_stop_cuts_tcp_service(const std::string& mode) {
    Dirs dirs;
    const std::size_t size = 32 * 1024 * 1024;
    dirs.put_file("big.bin", make_bytes(size, 12));
    TftpServer server(dirs, mode, {"--allow-upload", "--create"});
    const bool concurrent = mode.rfind("sync", 0) != 0;
    Socket get(AF_INET, SOCK_STREAM);
    const int small = 4096;
    ::setsockopt(get.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    get.set_timeout(10s);
    get.connect(server.address());
    get.send_all(tftp::framing::message(tftp::framing::Type::get, "big.bin"));
    const std::string header = test::recv_exactly(get, tftp::framing::header_size);
    REQUIRE(std::get<tftp::framing::Header>(tftp::framing::decode(header)).type == tftp::framing::Type::file);
    Socket put, idle;
    if (concurrent) {
        put = test::connect_stream(server.address());
        put.send_all(tftp::framing::message(tftp::framing::Type::put, tftp::framing::put_body(1 << 20, "partial.bin")));
        const auto ready = tftp::framing::decode(test::recv_exactly(put, tftp::framing::header_size));
        REQUIRE(std::get<tftp::framing::Header>(ready).type == tftp::framing::Type::ready);
        put.send_all(std::string(1000, 'p'));  // of 1 MiB, and then nothing
        idle = test::connect_stream(server.address());  // says nothing
    }
    const auto stop_at = std::chrono::steady_clock::now();
    server.process().signal(SIGTERM);
    check_exits_cleanly_within_2s(server, stop_at);
    // The stalled client gets less than the file, then the end of the connection.
    std::size_t received = 0;
    char buffer[65536];
    try {
        while (const std::size_t n = get.recv(buffer, sizeof buffer)) received += n;
    } catch (const std::system_error&) {  // a reset, once the unread rest was discarded
    }
    CHECK(received < size);
    CHECK(dirs.served_names() == std::vector<std::string>{"big.bin"});  // no partial or hidden upload file
}

TEST_EVERY_APP_MODE("SIGTERM cuts off stalled TCP gets - puts and idle clients within 2 s", "[tftp][app][tcp]") {
    check_stop_cuts_tcp_service(mode);
}

TEST_CASE("a failed upload's log line says how many bytes arrived", "[tftp][app]") {
    Dirs dirs;
    TftpServer server(dirs, "thread", {"--allow-upload", "--create", "--timeout", "0.05", "--retries", "2"});
    Socket client(AF_INET, SOCK_DGRAM);
    client.set_timeout(5s);
    char buffer[600];
    Address from;
    client.sendto(tftp::encode_request({true, "cut.bin", "octet", {}}), server.address());
    std::size_t n = client.recvfrom(buffer, sizeof buffer, from);  // ACK 0, from the transfer's port
    REQUIRE(std::get<tftp::Ack>(tftp::parse(std::string_view(buffer, n))).block == 0);
    // Two full blocks, then the client vanishes: the transfer gives up waiting for DATA 3.
    for (std::uint16_t block = 1; block <= 2; ++block) {
        client.sendto(tftp::encode_data(block, std::string(512, 'x')), from);
        n = client.recvfrom(buffer, sizeof buffer, from);
        REQUIRE(std::get<tftp::Ack>(tftp::parse(std::string_view(buffer, n))).block == block);
    }
    CHECK_NOTHROW(server.process().wait_for_line(R"(cut\.bin.*failed \(timed out waiting for DATA 3\), 1024 bytes in )"));
    CHECK_FALSE(std::filesystem::exists(dirs.served / "cut.bin"));
}

TEST_CASE("the server port answers junk with ERROR 4 and never answers an ERROR", "[tftp][app]") {
    Dirs dirs;
    TftpServer server(dirs, "thread");
    Socket client(AF_INET, SOCK_DGRAM);
    client.set_timeout(5s);
    char buffer[600];
    Address from;
    const auto answer = [&] {
        const std::size_t n = client.recvfrom(buffer, sizeof buffer, from);
        return std::get<tftp::Error>(tftp::parse(std::string_view(buffer, n)));
    };
    using namespace std::string_literals;
    for (const std::string& junk : std::vector<std::string>{"x"s, "\x00\x09zzz"s, "\x00\x01no-terminator"s,
                                                            "\x00\x03\x00\x01" "data"s, "\x00\x04\x00\x01"s,
                                                            std::string(9000, 'A')}) {
        client.sendto(junk, server.address());
        CHECK(answer().code == tftp::illegal_operation);
    }
    client.sendto(tftp::encode_error(0, "bounce me"), server.address());  // must get no answer...
    client.sendto("\x00\x09"s, server.address());
    CHECK(answer().message == "unknown opcode 9");  // ...so this is the next thing we hear
    client.sendto(tftp::encode_request({false, "f", "mail", {}}), server.address());
    CHECK(answer().code == tftp::illegal_operation);
}

namespace {
// The client sends its request twice, then (delay) takes its time acknowledging the first block: in
// sync mode the copy waits in the socket until the transfer is over, and is still a copy.
void check_repeated_request(const std::string& mode, std::chrono::milliseconds delay) {
    Dirs dirs;
    dirs.put_file("small.txt", "tiny");
    TftpServer server(dirs, mode);
    Socket client(AF_INET, SOCK_DGRAM);
    client.set_timeout(5s);
    const std::string request = tftp::encode_request({false, "small.txt", "octet", {}});
    client.sendto(request, server.address());
    client.sendto(request, server.address());  // the impatient client's copy
    char buffer[600];
    Address from;
    std::size_t n = client.recvfrom(buffer, sizeof buffer, from);
    CHECK(std::get<tftp::Data>(tftp::parse(std::string_view(buffer, n))).payload == "tiny");
    std::this_thread::sleep_for(delay);  // the dawdling client, not a readiness wait
    client.sendto(tftp::encode_ack(1), from);
    client.sendto(tftp::encode_request({false, "marker-missing.txt", "octet", {}}), server.address());
    // A second transfer of small.txt would have come before the marker's answer (sync mode serves
    // in order); retransmissions of the first transfer's DATA 1 come from its own port.
    for (;;) {
        n = client.recvfrom(buffer, sizeof buffer, from);
        if (from.port() != server.address().port()) {
            const auto reply = tftp::parse(std::string_view(buffer, n));
            if (std::holds_alternative<tftp::Data>(reply)) continue;  // the first transfer's resends
            REQUIRE(std::holds_alternative<tftp::Error>(reply));
            CHECK(std::get<tftp::Error>(reply).code == tftp::file_not_found);
            break;
        }
    }
}
}  // namespace

TEST_CASE("a repeated request is dropped though read after a long transfer (sync) - sync", "[tftp][app][sync]") {
    check_repeated_request("sync", 2500ms);
}
TEST_EVERY_APP_MODE("a repeated request starts one transfer", "[tftp][app]") { check_repeated_request(mode, 0ms); }

TEST_CASE("the TCP service lists - gets and puts with tftp_client - many at once", "[tftp][app][tcp]") {
    Dirs dirs;
    const std::string bytes = make_bytes(3 * 1024 * 1024, 5);
    dirs.put_file("data.bin", bytes);
    dirs.put_file("small.txt", "small\n");
    std::filesystem::create_directories(dirs.served / "subdir");
    TftpServer server(dirs, "fork", {"--allow-upload", "--create"});
    const std::string client = shell_quote(test::binary("tftp_client")) + " 127.0.0.1 " + server.port();
    CHECK(test::run(client + " list") == std::to_string(bytes.size()) + "\tdata.bin\n6\tsmall.txt\n");
    test::run(client + " get data.bin " + in(dirs, "data.bin"));
    CHECK(test::read_file(dirs.local / "data.bin") == bytes);
    test::run(client + " put " + in(dirs, "data.bin") + " copy.bin");
    CHECK(test::read_file(dirs.served / "copy.bin") == bytes);
    // Several commands on one connection, from a script.
    const std::string session = test::run("printf 'list\\nget small.txt " + (dirs.local / "s.txt").string() +
                                          "\\nhelp\\nquit\\n' | " + client);
    CHECK(session.find("6\tsmall.txt") != std::string::npos);
    CHECK(session.find("get NAME [LOCAL]") != std::string::npos);
    CHECK(test::read_file(dirs.local / "s.txt") == "small\n");
    CHECK_NOTHROW(server.process().wait_for_line(R"(:(\d+) tcp list)"));
    // Errors carry TFTP codes.
    const auto missing = test::run_command(client + " get nope.bin 2>&1");
    CHECK(missing.status == 1);
    CHECK(missing.output.find("error 1: nope.bin: file not found") != std::string::npos);
    const auto traversal = test::run_command(client + " get ../etc/passwd 2>&1");
    CHECK(traversal.output.find("error 2: ") != std::string::npos);
    // Twenty clients at once.
    std::string many;
    for (int i = 0; i < 20; ++i) many += client + " get data.bin " + in(dirs, "m" + std::to_string(i)) + " & ";
    test::run(many + "wait");
    for (int i = 0; i < 20; ++i) CHECK(test::read_file(dirs.local / ("m" + std::to_string(i))) == bytes);
}

TEST_CASE("a client killed mid-upload leaves no file and the service goes on", "[tftp][app][tcp]") {
    Dirs dirs;
    TftpServer server(dirs, "thread", {"--allow-upload", "--create"});
    auto connection = test::connect_stream(server.address(), 10s);
    connection.send_all(tftp::framing::message(tftp::framing::Type::put, tftp::framing::put_body(10'000'000, "partial.bin")));
    const std::string ready = test::recv_exactly(connection, tftp::framing::header_size);
    CHECK(std::get<tftp::framing::Header>(tftp::framing::decode(ready)).type == tftp::framing::Type::ready);
    connection.send_all(std::string(1'000'000, 'p'));
    test::hang_up(connection);  // gone, 9 MB short
    CHECK_NOTHROW(server.process().wait_for_line(R"(put "partial\.bin": client left after \d+ of 10000000 bytes; nothing kept)"));
    CHECK(std::filesystem::is_empty(dirs.served.path()));  // neither the file nor its temporary
    CHECK(test::run(shell_quote(test::binary("tftp_client")) + " 127.0.0.1 " + server.port() + " list").empty());
}

TEST_CASE("the TCP service refuses a foreign protocol with an error and closes", "[tftp][app][tcp]") {
    Dirs dirs;
    TftpServer server(dirs, "thread");
    for (const std::string& junk : std::vector<std::string>{"GET / HTTP/1.1\r\n\r\n", std::string(12, '\x01'),
                                                            tftp::framing::encode({tftp::framing::Type::get, 0, 1 << 30})}) {
        auto connection = test::connect_stream(server.address(), 10s);
        connection.send_all(junk);
        const std::string answer = test::recv_all(connection);
        REQUIRE(answer.size() >= tftp::framing::header_size);
        const auto header = std::get<tftp::framing::Header>(tftp::framing::decode(answer.substr(0, tftp::framing::header_size)));
        CHECK(header.type == tftp::framing::Type::error);
        CHECK(header.code == tftp::illegal_operation);
        test::hang_up(connection);
    }
}

TEST_CASE("tftp_server refuses bad options with exit status 2", "[tftp][app]") {
    const std::string server = shell_quote(test::binary("tftp_server"));
    CHECK(test::run_command(server + " --mode nope 2>&1").status == 2);
    CHECK(test::run_command(server + " --port-range 9:1 2>&1").status == 2);
    CHECK(test::run_command(server + " --no-udp --no-tcp 2>&1").status == 2);
    CHECK(test::run_command(server + " --port 0 -d /nonexistent/x 2>&1").status == 1);
    CHECK(test::run_command(shell_quote(test::binary("tftp_client")) + " 2>&1").status == 2);
}

TEST_CASE("1,000 concurrent downloads in event mode on --loops loops - every byte right", "[tftp][app][event-2]") {
    // The clients are the project's own UDP client, each on a fiber of one event loop in this
    // process: 1,000 blocking-style transfers on one thread, as the server runs its own.
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    Dirs dirs;
    std::vector<std::string> contents;
    for (int i = 0; i < 10; ++i) {
        // 16 KiB .. 24 KiB, one of them an exact multiple of the block size.
        contents.push_back(make_bytes(i == 0 ? 16 * 1024 : 16 * 1024 + 777 * static_cast<std::size_t>(i), 100 + i));
        dirs.put_file("f" + std::to_string(i), contents.back());
    }
    TftpServer server(dirs, "event-2", {"--no-tcp", "--timeout", "2"});
    const std::string status_file = "/proc/" + std::to_string(server.process().pid()) + "/status";
    const auto server_threads = [&] {
        std::istringstream status(test::read_file(status_file));
        std::string line;
        while (std::getline(status, line))
            if (line.starts_with("Threads:")) return std::stoi(line.substr(8));
        return -1;
    };

    constexpr int downloads = 1000;
    std::atomic<int> done{0};
    std::vector<std::string> failures;
    std::thread clients([&] {
        sockserv::EventLoop loop(128 * 1024);
        for (int i = 0; i < downloads; ++i) {
            loop.spawn([&, i] {
                const auto local = dirs.local / ("d" + std::to_string(i));
                try {
                    tftp::UdpOptions options;
                    options.timeout = 2s;
                    tftp::udp_get(server.address(), "f" + std::to_string(i % 10), local, options, false);
                } catch (const std::exception& error) {
                    failures.push_back(std::to_string(i) + ": " + error.what());
                }
                ++done;
            });
        }
        loop.run_until_idle();
    });
    int most_threads = 0;
    while (done.load() < downloads) {
        most_threads = std::max(most_threads, server_threads());
        server.process().stderr_text();  // drained: a full pipe would block the server's log line
        std::this_thread::sleep_for(20ms);  // sampling /proc while the transfers run
    }
    clients.join();
    std::string failed;
    for (std::size_t i = 0; i < failures.size() && i < 5; ++i) failed += failures[i] + "\n";
    INFO(failures.size() << " failed, the first: " << failed << "server: " << server.process().stderr_text().substr(0, 2000));
    CHECK(failures.empty());
    CHECK(most_threads <= 2 + test::sanitizer_threads);
    CHECK(most_threads >= 1);
    int identical = 0;
    for (int i = 0; i < downloads; ++i)
        identical += test::read_file(dirs.local / ("d" + std::to_string(i))) == contents[static_cast<std::size_t>(i % 10)];
    CHECK(identical == downloads);
}
