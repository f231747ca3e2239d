// The shared command line in-process: an app's options through Spec and Values, and the sockets
// systemd passes (what parse() takes and what a server of each kind chooses). The error paths
// print and exit, so they are tested through the real programs (the apps' "bad options" tests).

#include <sockserv/program/cli.hpp>
#include <sockserv/program/passed_sockets.hpp>

#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <cstdlib>
#include <stdexcept>
#include <vector>

using namespace sockserv;

namespace {

cli::Options parse(std::vector<const char*> argv, cli::Spec spec) {
    argv.insert(argv.begin(), "prog");
    return cli::parse(static_cast<int>(argv.size()), argv.data(), "prog", std::move(spec));
}

cli::Spec app_spec() {
    cli::Spec spec;
    spec.option<std::string>("directory,d", ".", "directory")
        .option<double>("idle-timeout", 5, "seconds")
        .option<std::string>("bind,b", "address")
        .option<unsigned long>("capacity", 256, "members")
        .flag("follow-symlinks", "follow")
        .positional("port");
    return spec;
}

}  // namespace

TEST_CASE("cli: an app's options are declared through Spec and read through Values", "[cli]") {
    const auto options = parse({"-d", "/srv", "--idle-timeout", "2.5", "--follow-symlinks", "8080"}, app_spec());
    CHECK(options.values.get<std::string>("directory") == "/srv");
    CHECK(options.values.get<double>("idle-timeout") == 2.5);
    CHECK(options.values.get<unsigned long>("capacity") == 256);  // its default
    CHECK(options.values.defaulted("capacity"));
    CHECK_FALSE(options.values.defaulted("directory"));
    CHECK(options.values.has("follow-symlinks"));
    CHECK_FALSE(options.values.has("bind"));  // no default, not given
    CHECK(options.port == 8080);              // the positional argument
    CHECK(options.values.defaulted("host"));  // the shared options are there too
    CHECK(options.values.get<std::string>("host") == "127.0.0.1");
}

TEST_CASE("cli: reading an option that is absent or of another type throws", "[cli]") {
    const auto options = parse({}, app_spec());
    CHECK_THROWS_AS(options.values.get<std::string>("bind"), std::invalid_argument);
    CHECK_THROWS_AS(options.values.get<int>("directory"), std::invalid_argument);
    CHECK_THROWS_AS(options.values.get<std::string>("no-such-option"), std::invalid_argument);
}

TEST_CASE("cli: sockets passed for another process are not taken, and the variables are unset", "[cli]") {
    // LISTEN_PID names pid 1, not us: nothing is taken, and a child of ours would not see them.
    ::setenv("LISTEN_PID", "1", 1);
    ::setenv("LISTEN_FDS", "1", 1);
    ::setenv("LISTEN_FDNAMES", "http", 1);
    const auto options = parse({}, cli::Spec{});
    CHECK(options.passed_sockets.empty());
    CHECK(std::getenv("LISTEN_PID") == nullptr);
    CHECK(std::getenv("LISTEN_FDS") == nullptr);
    CHECK(std::getenv("LISTEN_FDNAMES") == nullptr);
    CHECK_FALSE(options.unix_socket());
}

TEST_CASE("choose_passed_socket gives each kind of server its own socket, or says what is wrong", "[cli]") {
    const std::vector<PassedSocket> tftp{{3, "tftp", SOCK_STREAM, AF_INET6}, {4, "tftp", SOCK_DGRAM, AF_INET6}};
    CHECK(choose_passed_socket(tftp, true, false)->fd == 4);   // the UDP server: the datagram one
    CHECK(choose_passed_socket(tftp, false, false)->fd == 3);  // the TCP server: the stream one
    CHECK(choose_passed_socket({}, false, false) == nullptr);  // nothing passed: bind as usual
    // A Unix server given IP sockets, or two sockets for one server: refused, naming them.
    CHECK_THROWS_WITH(choose_passed_socket(tftp, false, true),
                      "systemd passed fd 3 (tftp, IPv6 stream), fd 4 (tftp, IPv6 datagram), but this server "
                      "needs a Unix stream socket");
    const std::vector<PassedSocket> two{{3, "", SOCK_STREAM, AF_INET}, {4, "", SOCK_STREAM, AF_INET6}};
    CHECK_THROWS_AS(choose_passed_socket(two, false, false), std::invalid_argument);
    const std::vector<PassedSocket> not_socket{{3, "x", 0, 0}};
    CHECK_THROWS_WITH(choose_passed_socket(not_socket, false, false),
                      "systemd passed fd 3 (x, not a socket), but this server needs an IP stream socket");
}

TEST_CASE("cli: each mode's options come from the mode table and set that mode's part of the config", "[cli]") {
    const auto defaults = parse({}, {}).server_config();
    CHECK(defaults.thread.max_threads == ServerConfig{}.thread.max_threads);
    CHECK(defaults.event.fiber_stack_size == ServerConfig{}.event.fiber_stack_size);

    const auto options = parse({"--max-threads", "7", "--max-children", "9", "--loops", "3", "--fiber-stack", "128K",
                                "--max-connections", "50"},
                               {});
    const ServerConfig config = options.server_config();
    CHECK(config.thread.max_threads == 7);
    CHECK(config.fork.max_children == 9);
    CHECK(config.event.loops == 3);
    CHECK(config.event.fiber_stack_size == 128 * 1024);
    CHECK(config.event.max_connections == 50);
    // Every option a mode declares is a real option of the shared command line.
    for (const ModeInfo& info : modes())
        for (const ModeOption& option : info.options) CHECK(options.values.has(std::string(option.name)));
}

TEST_CASE("cli: a program's own mode defaults stand unless the command line says otherwise", "[cli]") {
    const auto spec = [] {
        cli::Spec spec;
        spec.mode_defaults.event.loops = 1;
        spec.mode_defaults.thread.max_threads = 77;
        return spec;
    };
    const ServerConfig defaults = parse({}, spec()).server_config();
    CHECK(defaults.event.loops == 1);
    CHECK(defaults.thread.max_threads == 77);
    CHECK(defaults.fork.max_children == ServerConfig{}.fork.max_children);  // not touched: the library's
    const ServerConfig given = parse({"--loops", "4", "--max-threads", "5"}, spec()).server_config();
    CHECK(given.event.loops == 4);
    CHECK(given.thread.max_threads == 5);
}

TEST_CASE("cli: the old spelling --threads still sets event mode's loops", "[cli]") {
    CHECK(parse({"--threads", "2"}, {}).server_config().event.loops == 2);
    // The new spelling wins when both are given.
    CHECK(parse({"--threads", "2", "--loops", "5"}, {}).server_config().event.loops == 5);
}

TEST_CASE("cli: --defer-accept sets the listener's deferred accept, off unless given", "[cli]") {
    CHECK_FALSE(parse({}, {}).server_config().defer_accept);
    CHECK(parse({"--defer-accept"}, {}).server_config().defer_accept);
}
