// Socket activation as systemd does it: the real apps started by Debian's systemd-socket-activate,
// which holds the listening sockets and starts the program on the first client. The sockets are
// bound here, on port 0, and handed through systemd-socket-activate (it passes on the LISTEN_FDS
// it was given, and adds its own for -l); so the port is known before anything runs and no port
// is guessed. systemd-socket-activate starts the app only when a client arrives: each test's
// client speaks first, into the socket's queue, and is answered once the app has started.

#include <sockserv/base/address.hpp>
#include <sockserv/io/socket.hpp>

#include "../../apps/chat/chat_member.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>

using sockserv::Address;
using sockserv::Socket;
using test::shell_quote;

namespace {

const std::string socket_activate = "/usr/bin/systemd-socket-activate";

// A socket bound (and, for a stream, listening) as systemd's .socket unit would leave it.
Socket bound(int type, const Address& at) {
    Socket socket(at.family(), type);
    if (at.is_inet() && type == SOCK_STREAM) socket.set_option(SOL_SOCKET, SO_REUSEADDR, 1);
    socket.bind(at);
    if (type == SOCK_STREAM && ::listen(socket.fd(), 64) != 0) throw std::runtime_error("listen");
    return socket;
}

std::string port_of(const Socket& socket) { return std::to_string(socket.local_address().port()); }

// systemd-socket-activate's own line for each socket it holds, once it is waiting for clients.
void wait_until_listening(test::Process& activator, const Socket& socket, int fd) {
    activator.wait_for_line("Listening on .*:" + port_of(socket) + " as " + std::to_string(fd) + R"(\.)");
}

// systemd-socket-activate [--fdname=NAMES] -- PROGRAM MODE... EXTRA...: it names the sockets
// (LISTEN_FDNAMES) itself, as a .socket unit's FileDescriptorName= does.
std::vector<std::string> command(const std::string& program, const std::string& mode,
                                 std::vector<std::string> extra, const std::string& names) {
    std::vector<std::string> args{socket_activate, "--fdname=" + names, "--", test::binary(program)};
    const auto mode_args = test::mode_arguments(mode);
    args.insert(args.end(), mode_args.begin(), mode_args.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

void check_stops_cleanly(test::Process& process) {
    process.signal(SIGTERM);
    const int status = process.wait();
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

// An address the apps cannot bind (TEST-NET-1 is on no interface here): a server that tried to
// bind its command line's address instead of taking the passed socket would fail at once.
const std::string unbindable = "192.0.2.1";

}  // namespace

TEST_CASE("http_server serves the TCP listener systemd passed, and binds nothing", "[activation][app]") {
    const std::string mode = GENERATE("sync", "thread", "fork", "event-2", "thread/w2");
    INFO("mode " << mode);
    test::TempDir dir;
    std::ofstream(dir / "hello.txt") << "hello from an activated server\n";
    Socket listener = bound(SOCK_STREAM, Address("127.0.0.1", 0));
    test::Process server(command("http_server", mode, {"-b", unbindable, "--port", "1", "-d", dir.path().string()}, "http"),
                         false, {{listener.fd()}});
    wait_until_listening(server, listener, 3);

    // The first client is what starts the app: it waits in the listener's backlog meanwhile.
    Socket client = test::connect_stream(listener.local_address());
    client.send_all("GET /hello.txt HTTP/1.0\r\n\r\n");
    const std::string response = test::recv_all(client);
    CHECK(response.starts_with("HTTP/1.0 200"));
    CHECK(response.ends_with("\r\n\r\nhello from an activated server\n"));
    // The banner names the passed socket's address, not the command line's.
    server.wait_for_line("Serving HTTP on 127.0.0.1 port " + port_of(listener));
    // And a second client, with the app running.
    Socket again = test::connect_stream(listener.local_address());
    again.send_all("HEAD /hello.txt HTTP/1.0\r\n\r\n");
    CHECK(test::recv_all(again).starts_with("HTTP/1.0 200"));
    check_stops_cleanly(server);
}

TEST_CASE("chat_server takes its UDP socket from systemd", "[activation][app]") {
    const std::string mode = GENERATE("sync", "thread", "fork", "event-1", "sync/w2");
    INFO("mode " << mode);
    Socket room = bound(SOCK_DGRAM, Address("127.0.0.1", 0));
    test::Process server(command("chat_server", mode, {"--host", unbindable, "--no-admin"}, "chat"), false,
                         {{room.fd()}});
    wait_until_listening(server, room, 3);

    // The join waits in the socket's queue until the app is up, and is answered then.
    chat_test::Member alice(room.local_address());
    chat_test::Member bob(room.local_address());
    alice.join("alice");
    server.wait_for_line("serving on 127.0.0.1:" + port_of(room));
    bob.join("bob");
    CHECK(alice.next() == "bob joined\n");
    check_stops_cleanly(server);
}

TEST_CASE("tftp_server serves the UDP and the TCP socket of one port, told apart by kind", "[activation][app]") {
    const std::string mode = GENERATE("thread", "fork", "event-2", "sync/w2");
    INFO("mode " << mode);
    test::TempDir served;
    test::TempDir local;
    std::string content(100'000, '\0');
    for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 % 251);
    std::ofstream(served / "blob.bin", std::ios::binary) << content;
    // One port for both, as sockserv-tftp.socket has it: UDP on port 0, then TCP on the same
    // number (taken already by someone else now and then: then both again).
    std::optional<Socket> udp;
    std::optional<Socket> tcp;
    for (int attempt = 0; !tcp && attempt < 20; ++attempt) {
        udp.emplace(bound(SOCK_DGRAM, Address("127.0.0.1", 0)));
        try {
            tcp.emplace(bound(SOCK_STREAM, Address("127.0.0.1", udp->local_address().port())));
        } catch (const std::system_error&) {
        }
    }
    REQUIRE(tcp);
    // The stream first: a server must not depend on the order systemd passes them in.
    test::Process server(command("tftp_server", mode, {"--host", unbindable, "-d", served.path().string()}, "tftp:tftp"),
                         false, {{tcp->fd(), udp->fd()}});
    wait_until_listening(server, *tcp, 3);
    wait_until_listening(server, *udp, 4);
    const std::string port = port_of(*udp);

    // tftp-hpa over UDP: its read request starts the app.
    const std::string by_udp = shell_quote((local / "by_udp.bin").string());
    test::run("tftp 127.0.0.1 " + port + " -m octet -c get blob.bin " + by_udp);
    CHECK(test::read_file(local / "by_udp.bin") == content);
    server.wait_for_line("serving on 127.0.0.1:" + port);
    // The TCP file service on the other passed socket.
    const std::string by_tcp = shell_quote((local / "by_tcp.bin").string());
    test::run(shell_quote(test::binary("tftp_client")) + " 127.0.0.1 " + port + " get blob.bin " + by_tcp);
    CHECK(test::read_file(local / "by_tcp.bin") == content);
    check_stops_cleanly(server);
}

TEST_CASE("echo_server serves a Unix socket systemd-socket-activate bound itself", "[activation][app]") {
    // -l PATH: systemd-socket-activate binds the path itself (-d: a datagram socket); echo_server
    // is given no --unix, and takes the Unix transport because the passed socket is one.
    const auto [mode, datagram] = GENERATE(std::pair{"fork", false}, std::pair{"event-1", false},
                                           std::pair{"thread", true}, std::pair{"event-2", true});
    INFO("mode " << mode << (datagram ? ", datagram" : ", stream"));
    test::TempDir dir;
    const std::string path = (dir / "echo.sock").string();
    std::vector<std::string> args{socket_activate, "-l", path};
    if (datagram) args.push_back("-d");
    args.insert(args.end(), {"--", test::binary("echo_server")});
    if (datagram) args.push_back("--udp");
    for (const auto& arg : test::mode_arguments(mode)) args.push_back(arg);
    test::Process server(args);
    server.wait_for_line("Listening on " + std::regex_replace(path, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                         " as 3\\.");
    const Address at = Address::unix_path(path);
    if (datagram) {
        const Socket client = test::datagram_client(at);
        CHECK(test::datagram_roundtrip(client, at, "a datagram on a passed socket") == "a datagram on a passed socket");
    } else {
        Socket client = test::connect_stream(at);
        client.send_all("over a passed Unix socket\n");
        CHECK(test::recv_exactly(client, 26) == "over a passed Unix socket\n");
    }
    server.wait_for_line("serving on " + path);
    check_stops_cleanly(server);
}

TEST_CASE("a passed socket of the wrong kind is refused with a message naming it", "[activation][app]") {
    // http_server is a TCP server: a UDP socket from systemd is a unit file's mistake to report.
    Socket wrong = bound(SOCK_DGRAM, Address("127.0.0.1", 0));
    test::Process server(command("http_server", "thread", {}, "oops"), false, {{wrong.fd()}});
    wait_until_listening(server, wrong, 3);
    const Socket poke = test::datagram_client(wrong.local_address());
    const Address at = wrong.local_address();
    CHECK(::sendto(poke.fd(), "x", 1, 0, at.data(), at.size()) == 1);  // starts the app
    server.wait_for_line(R"(systemd passed fd 3 \(oops, IPv4 datagram\), but this server needs an IP stream socket)");
    const int status = server.wait();
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
}

TEST_CASE("sockets meant for another process (LISTEN_PID) are not taken", "[activation][app]") {
    // As sd_listen_fds(): LISTEN_PID names the process the sockets are for; a program started with
    // them in its environment but another pid binds its own address, as if none were passed.
    Socket stray = bound(SOCK_STREAM, Address("127.0.0.1", 0));
    const std::string program = shell_quote(test::binary("echo_server"));
    test::Process server({"/bin/sh", "-c", "LISTEN_PID=1 exec " + program + " --port 0 --mode sync"}, false,
                         {{stray.fd()}});
    const Address address = server.wait_until_serving();
    CHECK(address.port() != stray.local_address().port());
    test::echo_once(address);
    check_stops_cleanly(server);
}
