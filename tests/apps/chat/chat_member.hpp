#pragma once
// A chat member on a plain UDP socket, as the server sees one: what the chat tests talk through.

#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <poll.h>

#include <deque>
#include <optional>
#include <string>

namespace chat_test {

using namespace std::chrono_literals;
using sockserv::Address;
using sockserv::Socket;

// A member of the room as the server sees it: one UDP socket, one address.
class Member {
public:
    explicit Member(Address server) : server_(std::move(server)), socket_(AF_INET, SOCK_DGRAM) {
        socket_.bind(Address("127.0.0.1", 0));
        socket_.set_timeout(10s);
    }
    void send(std::string_view datagram) const { socket_.sendto(datagram, server_); }
    /// The next line from the server, with its newline; throws after 10 s of nothing.
    std::string next() {
        if (lines_.empty()) lines_ = receive();
        std::string line = std::move(lines_.front());
        lines_.pop_front();
        return line;
    }
    /// The next line if one comes within timeout (0: only one already here).
    std::optional<std::string> next_within(std::chrono::milliseconds timeout) {
        pollfd ready{socket_.fd(), POLLIN, 0};
        if (lines_.empty() && ::poll(&ready, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
        return next();
    }
    /// The lines of the next datagram (several only from a server run with --coalesce).
    std::deque<std::string> receive() const {
        std::string buffer(70000, '\0');
        Address from;
        const std::size_t n = socket_.recvfrom(buffer.data(), buffer.size(), from);
        buffer.resize(std::min(n, buffer.size()));
        std::deque<std::string> lines;
        for (std::size_t start = 0; start < buffer.size();) {
            const auto end = buffer.find('\n', start);
            const std::size_t stop = end == std::string::npos ? buffer.size() : end + 1;
            lines.push_back(buffer.substr(start, stop - start));
            start = stop;
        }
        if (lines.empty()) lines.emplace_back();  // an empty datagram, as such
        return lines;
    }
    bool has_buffered_lines() const { return !lines_.empty(); }
    void join(const std::string& name) {
        send("L " + name);
        REQUIRE(next() == "OK\n");
        name_ = name;
    }
    void say(const std::string& text) const { send("C " + name_ + " " + text); }
    const Socket& socket() const { return socket_; }
    const std::string& name() const { return name_; }

private:
    Address server_;
    Socket socket_;
    std::string name_;
    std::deque<std::string> lines_;
};

}  // namespace chat_test
