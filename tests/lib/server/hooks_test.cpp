// The hooks, with Python's meaning: verify_request, handle_error, handle_timeout, service_actions.

#include "../../../apps/echo/echo_handlers.hpp"
#include "../../support/every_mode.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>
#include <fcntl.h>
#include <unistd.h>

using namespace sockserv;
using namespace std::chrono_literals;

namespace {
const Address loopback4{"127.0.0.1", 0};

template <class Base>
struct Refusing : Base {
    using Base::Base;
    bool verify_request(Request&) override { return false; }
};

struct Throwing : StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        std::string line;
        rfile().readline(line);
        if (line == "boom\n") throw std::runtime_error("handler blew up");
        wfile().write("fine\n");
    }
};

// handle_error reports through a pipe, so that a forked child's report reaches the test too.
template <class Base>
struct Reporting : Base {
    using Base::Base;
    int report_fd = -1;
    void handle_error(const Request&, std::exception_ptr error) noexcept override {
        std::string what = "?";
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            what = e.what();
        }
        what += "\n";
        [[maybe_unused]] auto n = ::write(report_fd, what.data(), what.size());
    }
};

template <class Server>
void check_handler_errors_reach_handle_error() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    UniqueFd read_end(fds[0]), write_end(fds[1]);
    Reporting<Server> server{loopback4};
    server.report_fd = write_end.get();
    test::Running running(server);

    auto bad = test::connect_stream(server.server_address());
    bad.send_all("boom\n");
    CHECK(test::recv_all(bad).empty());  // the request was closed
    char buffer[256] = {};
    const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer - 1);
    CHECK(std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0) == "handler blew up\n");

    // ...and the server keeps serving.
    auto good = test::connect_stream(server.server_address());
    good.send_all("hello\n");
    CHECK(test::recv_all(good) == "fine\n");
}
}  // namespace

TEST_CASE("verify_request returning false still closes the request", "[hooks][tcp][sync]") {
    Refusing<TCPServer<echo::StreamEcho>> server{loopback4};
    test::Running running(server);
    auto client = test::connect_stream(server.server_address());
    client.send_all("anyone?\n");
    CHECK(test::recv_all(client).empty());  // EOF, not a hang
}

TEST_CASE("verify_request returning false in thread and fork modes", "[hooks][tcp][thread]") {
    Refusing<ThreadingTCPServer<echo::StreamEcho>> server{loopback4};
    test::Running running(server);
    auto client = test::connect_stream(server.server_address());
    CHECK(test::recv_all(client).empty());
}

TEST_EVERY_MODE("handler exceptions reach handle_error", "[hooks]") {
    check_handler_errors_reach_handle_error<Policy<TCPServer<Throwing>>>();
}

TEST_CASE("finish runs even when handle throws", "[hooks][sync]") {
    static std::atomic<int> finished{0};
    struct Finisher : StreamRequestHandler {
        using StreamRequestHandler::StreamRequestHandler;
        void handle() override { throw std::runtime_error("no"); }
        void finish() override {
            ++finished;
            StreamRequestHandler::finish();
        }
    };
    struct Quiet : TCPServer<Finisher> {
        using TCPServer::TCPServer;
        void handle_error(const Request&, std::exception_ptr) noexcept override {}
    };
    Quiet server{loopback4};
    test::Running running(server);
    auto client = test::connect_stream(server.server_address());
    CHECK(test::recv_all(client).empty());
    CHECK(finished == 1);
}

TEST_CASE("handle's exception reaches handle_error even when finish throws too - finish's alone does as well", "[hooks][sync]") {
    static std::atomic<bool> handle_throws{true};
    struct BothThrow : StreamRequestHandler {
        using StreamRequestHandler::StreamRequestHandler;
        void handle() override {
            if (handle_throws) throw std::runtime_error("from handle");
        }
        void finish() override { throw std::runtime_error("from finish"); }
    };
    struct Recording : TCPServer<BothThrow> {
        using TCPServer::TCPServer;
        std::mutex mutex;
        std::vector<std::string> errors;
        void handle_error(const Request&, std::exception_ptr error) noexcept override {
            const std::lock_guard lock(mutex);
            errors.push_back(describe(error));
        }
    };
    Recording server{loopback4};
    for (const bool throws : {true, false}) {
        handle_throws = throws;
        auto client = test::connect_stream(server.server_address());
        server.handle_request();
        CHECK(test::recv_all(client).empty());
    }
    const std::lock_guard lock(server.mutex);
    // handle()'s says what went wrong first; finish()'s is reported when it is the only one.
    CHECK(server.errors == std::vector<std::string>{"from handle", "from finish"});
}

TEST_CASE("is_peer_gone answers for an error classified where it was caught", "[hooks][error]") {
    const auto thrown = [](auto error) {
        try {
            throw error;
        } catch (...) {
            return std::current_exception();
        }
    };
    const std::exception_ptr reset = thrown(std::system_error(ECONNRESET, std::generic_category(), "recv"));
    const std::exception_ptr other = thrown(std::runtime_error("bug"));
    CHECK(is_peer_gone(reset));
    CHECK_FALSE(is_peer_gone(other));
    {
        // What the catch site found is the answer for that error, and for no other.
        const ClassifiedError classified(other, true);
        CHECK(is_peer_gone(other));
        CHECK(is_peer_gone(reset));
        {
            const ClassifiedError inner(reset, false);
            CHECK_FALSE(is_peer_gone(reset));
            CHECK(is_peer_gone(other));
        }
        CHECK(is_peer_gone(reset));
    }
    CHECK_FALSE(is_peer_gone(other));
}

TEST_CASE("handle_request waits config().timeout - then calls handle_timeout", "[hooks][sync]") {
    struct Timing : TCPServer<echo::StreamEcho> {
        using TCPServer::TCPServer;
        int timeouts = 0;
        void handle_timeout() override { ++timeouts; }
    };
    ServerConfig config;
    config.timeout = 100ms;
    Timing server{loopback4, config};
    const auto begin = std::chrono::steady_clock::now();
    CHECK_FALSE(server.handle_request());
    const auto waited = std::chrono::steady_clock::now() - begin;
    CHECK(server.timeouts == 1);
    CHECK(waited >= 100ms);
    CHECK(waited < 1s);

    // With a client waiting, handle_request serves it and returns true.
    auto client = test::connect_stream(server.server_address());
    client.send_all("one\n");
    client.shutdown(SHUT_WR);
    CHECK(server.handle_request());
    CHECK(test::recv_all(client) == "one\n");
    CHECK(server.timeouts == 1);
}

TEST_CASE("service_actions runs every service_interval when asked - and only then when idle", "[hooks][sync]") {
    struct Ticking : UDPServer<echo::DatagramEcho> {
        using UDPServer::UDPServer;
        std::atomic<int> ticks{0};
        void service_actions() override { ++ticks; }
    };
    SECTION("with an interval") {
        ServerConfig config;
        config.service_interval = 20ms;
        Ticking server{loopback4, config};
        test::Running running(server);
        CHECK(test::eventually([&] { return server.ticks >= 5; }, 5s));
    }
    SECTION("without one, an idle server does not wake up") {
        Ticking server{loopback4};
        test::Running running(server);
        std::this_thread::sleep_for(200ms);  // deliberately idle: nothing may happen in it
        CHECK(server.ticks == 0);
    }
}

TEST_CASE("setup failures name the call and the address", "[errors][sync]") {
    TCPServer<echo::StreamEcho> first{loopback4};
    const Address taken = first.server_address();
    try {
        ServerConfig config;
        config.allow_reuse_address = false;
        TCPServer<echo::StreamEcho> second{taken, config};
        FAIL("binding a taken port must throw");
    } catch (const std::system_error& error) {
        CHECK(std::string(error.what()) == "bind " + taken.to_string() + ": Address already in use");
    }
    CHECK_THROWS_WITH((TCPServer<echo::StreamEcho>{Address::unix_path("/tmp/x.sock")}),
                      Catch::Contains("TCPServer needs an IPv4 or IPv6 address"));
    CHECK_THROWS_WITH((UnixStreamServer<echo::StreamEcho>{Address("127.0.0.1", 0)}),
                      Catch::Contains("UnixStreamServer needs a Unix socket path"));
}

TEST_CASE("1000 failed binds leak no fd", "[errors][sync]") {
    TCPServer<echo::StreamEcho> holder{loopback4};
    const Address taken = holder.server_address();
    ServerConfig config;
    config.allow_reuse_address = false;
    const int before = test::open_fd_count();
    for (int i = 0; i < 1000; ++i) {
        try {
            TCPServer<echo::StreamEcho> server{taken, config};
        } catch (const std::system_error&) {
        }
    }
    CHECK(test::open_fd_count() == before);
}

TEST_CASE("every socket is close-on-exec and SO_REUSEADDR is on for TCP", "[sync]") {
    TCPServer<echo::StreamEcho> server{loopback4};
    CHECK((::fcntl(server.fileno(), F_GETFD) & FD_CLOEXEC) != 0);
    int reuse = 0;
    socklen_t size = sizeof reuse;
    ::getsockopt(server.fileno(), SOL_SOCKET, SO_REUSEADDR, &reuse, &size);
    CHECK(reuse == 1);
    struct CheckCloexec : StreamRequestHandler {
        using StreamRequestHandler::StreamRequestHandler;
        void handle() override { wfile().write((::fcntl(connection().fd(), F_GETFD) & FD_CLOEXEC) ? "yes" : "no"); }
    };
    TCPServer<CheckCloexec> checker{loopback4};
    test::Running running(checker);
    auto client = test::connect_stream(checker.server_address());
    CHECK(test::recv_all(client) == "yes");
}

TEST_CASE("a handler writing to a vanished peer does not kill the process (SIGPIPE)", "[sync]") {
    struct Flood : StreamRequestHandler {
        using StreamRequestHandler::StreamRequestHandler;
        void handle() override {
            const std::string chunk(64 * 1024, 'x');
            for (int i = 0; i < 1000; ++i) connection().send_all(chunk);  // throws EPIPE/ECONNRESET
        }
    };
    TCPServer<Flood> server{loopback4};
    test::Running running(server);
    {
        auto client = test::connect_stream(server.server_address());
        char byte;
        client.recv(&byte, 1);
    }  // closed with unread data: the server's sends fail
    auto next = test::connect_stream(server.server_address());  // still alive
    char byte;
    CHECK(next.recv(&byte, 1) == 1);
}
