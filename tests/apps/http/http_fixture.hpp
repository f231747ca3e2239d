#pragma once
// The real http_server on a directory of test files, and the clients that talk to it: curl, and a
// raw socket for what curl will not send.

#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace http_test {

using namespace std::chrono_literals;

/// What a served directory holds, and a secret outside it that must never come back.
struct Content {
    test::TempDir dir;
    test::TempDir outside;
    static constexpr const char* secret = "TOP-SECRET-9f3c1e";

    Content() {
        write("hello.txt", "hello world\n");
        write("page.html", "<!DOCTYPE html><title>t</title><p id=\"p\">static page</p>");
        std::filesystem::create_directories(dir / "docs" / "sub dir");
        write("docs/a.txt", "a");
        write("docs/B.txt", "bb");
        write("docs/<b>&amp.txt", "escaped");
        std::filesystem::create_directories(dir / "site");
        write("site/index.html", "<h1>site index</h1>");
        std::ofstream(outside / "secret.txt") << secret;
        std::filesystem::create_symlink(outside / "secret.txt", dir / "leak.txt");
    }
    void write(const std::string& name, const std::string& text) const { std::ofstream(dir / name) << text; }
    /// A file of `size` pseudo-random bytes (the same every run).
    std::filesystem::path make_file(const std::string& name, std::size_t size) const {
        std::mt19937_64 random(size);
        std::string bytes(size, '\0');
        for (std::size_t i = 0; i + 8 <= size; i += 8) {
            const std::uint64_t word = random();
            std::memcpy(bytes.data() + i, &word, 8);
        }
        std::ofstream(dir / name, std::ios::binary) << bytes;
        return dir / name;
    }
};

/// http_server serving a directory; stopped (killed with its children) on destruction.
class Server {
public:
    Server(const std::filesystem::path& directory, const std::string& mode, std::vector<std::string> extra = {})
        : process_(argv(directory, mode, std::move(extra))) {
        const auto match = process_.wait_for_line(R"(^Serving (HTTPS?) on (\S+) port (\d+) )");
        scheme_ = match[1] == "HTTPS" ? "https" : "http";
        host_ = match[2];
        port_ = std::stoi(match[3]);
    }
    int port() const { return port_; }
    const std::string& host() const { return host_; }
    /// http://127.0.0.1:PORT/PATH, or https://localhost:PORT/PATH (the name its certificate has).
    std::string url(const std::string& path) const {
        return scheme_ + (scheme_ == "https" ? "://localhost:" : "://127.0.0.1:") + std::to_string(port_) + path;
    }
    sockserv::Address address() const { return sockserv::Address("127.0.0.1", static_cast<std::uint16_t>(port_)); }
    test::Process& process() { return process_; }

private:
    static std::vector<std::string> argv(const std::filesystem::path& directory, const std::string& mode,
                                         std::vector<std::string> extra) {
        std::vector<std::string> args{test::binary("http_server"), "0", "-b", "127.0.0.1", "-d", directory.string()};
        const auto mode_args = test::mode_arguments(mode);
        args.insert(args.end(), mode_args.begin(), mode_args.end());
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    test::Process process_;
    std::string scheme_;
    std::string host_;
    int port_ = 0;
};

/// curl with the given arguments (already shell-quoted where needed); its stdout and status.
inline test::CommandResult curl(const std::string& arguments) {
    return test::run_command("curl -sS --max-time 30 " + arguments + " 2>&1");
}

/// Sends raw bytes on a new connection, half-closes, and returns everything the server answered.
inline std::string exchange(const sockserv::Address& address, const std::string& request) {
    auto client = test::connect_stream(address, 20s);
    client.send_all(request);
    client.shutdown(SHUT_WR);
    std::string answer = test::recv_all(client);
    test::hang_up(client);
    return answer;
}

/// The status code of the first response in `answer`, 0 if there is none.
inline int status_of(const std::string& answer) {
    if (answer.size() < 12 || !answer.starts_with("HTTP/1.")) return 0;
    return std::stoi(answer.substr(9, 3));
}

}  // namespace http_test
