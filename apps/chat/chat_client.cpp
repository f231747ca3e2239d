// chat_client: joins a chat_server room and chats. Incoming messages are shown while you type
// without cutting the line you are typing; q or Ctrl-D leaves.
//   chat_client --host 127.0.0.1 --port 8888 --name alice
//
// Two threads, one per direction (a blocking read of the terminal and one of the socket): the main
// thread reads what you type and sends it; a receiver thread prints what the server sends and
// keeps the membership alive with heartbeats.

#include "console.hpp"
#include "protocol.hpp"

#include <sockserv/program/cli.hpp>
#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/io/socket.hpp>
#include <sockserv/base/version.hpp>
#include <sockserv/io/waker.hpp>

#include <boost/program_options.hpp>

#include <poll.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Settings {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8888;
    std::string name;
    std::chrono::milliseconds heartbeat = 20s;
};

Settings parse_options(int argc, char** argv) {
    namespace po = boost::program_options;
    Settings settings;
    double heartbeat = 20;
    po::options_description options("chat_client [--host HOST] [--port PORT] [--name NAME]\nOptions");
    options.add_options()
        ("help,h", "show this help")
        ("version", "show the version and exit")
        ("host", po::value(&settings.host)->default_value(settings.host), "chat_server's host")
        ("port,p", po::value(&settings.port)->default_value(settings.port), "chat_server's UDP port")
        ("name,n", po::value(&settings.name), "the name to join with (asked for if missing or taken)")
        ("heartbeat", po::value(&heartbeat)->default_value(heartbeat),
         "seconds between heartbeats (keep it under the server's --idle-timeout)");
    po::variables_map values;
    try {
        po::store(po::command_line_parser(argc, argv).options(options).run(), values);
        po::notify(values);
        if (!(heartbeat > 0)) throw po::error("--heartbeat must be a positive number of seconds");
    } catch (const po::error& error) {
        sockserv::cli::usage_error("chat_client", error.what());
    }
    if (values.count("help")) {
        std::cout << options;
        std::exit(0);
    }
    if (values.count("version")) {
        std::cout << "chat_client (sockserv " SOCKSERV_VERSION ")\n";
        std::exit(0);
    }
    settings.heartbeat = std::chrono::milliseconds(static_cast<long long>(heartbeat * 1000));
    return settings;
}

// The next datagram from the server, or nullopt after `timeout`.
std::optional<std::string> receive(const sockserv::Socket& socket, std::chrono::milliseconds timeout) {
    pollfd entry{socket.fd(), POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char buffer[65536];
    try {
        const std::size_t n = socket.recv(buffer, sizeof buffer, MSG_DONTWAIT);
        return std::string(buffer, n);
    } catch (const std::system_error&) {
        return std::nullopt;  // ECONNREFUSED: nobody at the server's port (yet)
    }
}

enum class Login { joined, refused, no_answer };

// L NAME until the server answers: UDP may lose the request or the answer, and a repeated L from
// the same address is answered OK again, so retrying is safe.
Login log_in(const sockserv::Socket& socket, const std::string& name, std::string& reason) {
    for (int attempt = 0; attempt < 3; ++attempt) {
        socket.send_all(chat::login(name));
        const auto deadline = Clock::now() + 1s;
        while (Clock::now() < deadline) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            const auto answer = receive(socket, std::max(left, 1ms));
            if (!answer) continue;
            const std::string line = chat::displayable(*answer);
            if (line == "OK") return Login::joined;
            if (line.starts_with("ERR ")) {
                reason = line.substr(4);
                return Login::refused;
            }
        }
    }
    return Login::no_answer;
}

void receive_until_stopped(const sockserv::Socket& socket, const sockserv::Waker& stop, chat::Console& console,
                           const Settings& settings) {
    auto next_heartbeat = Clock::now() + settings.heartbeat;
    bool unreachable = false;
    for (;;) {
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_heartbeat - Clock::now());
        pollfd fds[2] = {{stop.fd(), POLLIN, 0}, {socket.fd(), POLLIN, 0}};
        const int rc = ::poll(fds, 2, static_cast<int>(std::max(wait.count(), 0L)));
        if (fds[0].revents) return;
        if (rc == 0 || Clock::now() >= next_heartbeat) {
            try {
                socket.send_all(chat::heartbeat(settings.name));
            } catch (const std::system_error&) {
            }
            next_heartbeat = Clock::now() + settings.heartbeat;
        }
        if (!(fds[1].revents & POLLIN)) continue;
        char buffer[65536];
        try {
            const std::size_t n = socket.recv(buffer, sizeof buffer, MSG_DONTWAIT);
            unreachable = false;
            // Under load the server sends several lines in one datagram.
            std::string_view rest(buffer, n);
            while (!rest.empty()) {
                const auto end = rest.find('\n');
                const std::string line = chat::displayable(rest.substr(0, end));
                rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
                if (line.starts_with("ERR ")) console.print("! " + line.substr(4));
                else if (line != "OK") console.print(line);
            }
        } catch (const sockserv::TimeoutError&) {
        } catch (const std::system_error&) {
            // ECONNREFUSED: an ICMP port unreachable came back for something we sent.
            if (!std::exchange(unreachable, true)) console.print("! the server is not answering");
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    Settings settings = parse_options(argc, argv);
    try {
        const sockserv::Address server(settings.host, settings.port);
        sockserv::Socket socket(server.family(), SOCK_DGRAM);
        // Connected: only the server's datagrams are received, and a dead port is reported.
        socket.connect(server);
        chat::Console console;

        std::string reason;
        for (bool first = true;; first = false) {
            if (!first || settings.name.empty()) {
                console.set_prompt("name: ");
                auto typed = console.read_line();
                if (!typed) return 0;
                settings.name = *typed;
                if (settings.name.empty()) continue;
            }
            const Login result = log_in(socket, settings.name, reason);
            if (result == Login::joined) break;
            if (result == Login::no_answer) {
                sockserv::log("chat_client: no answer from ", server.to_string());
                return 1;
            }
            console.print("name refused: " + reason);
        }
        console.print("joined as " + settings.name + " (q or Ctrl-D to leave)");

        sockserv::Waker stop;
        std::thread receiver([&] { receive_until_stopped(socket, stop, console, settings); });
        console.set_prompt(settings.name + "> ");
        while (auto line = console.read_line()) {
            if (*line == "q") break;
            if (line->empty()) continue;
            try {
                socket.send_all(chat::say(settings.name, *line));
            } catch (const std::system_error& error) {
                console.print(std::string("! not sent: ") + error.what());
            }
        }
        try {
            socket.send_all(chat::quit(settings.name));
        } catch (const std::system_error&) {
        }
        stop.notify();
        receiver.join();
        return 0;
    } catch (const std::exception& error) {
        sockserv::log("chat_client: ", error.what());
        return 1;
    }
}
