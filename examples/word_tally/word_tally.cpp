// word_tally: a TCP line server with shared state. Each line a client sends is a word; the server
// answers how many times anyone has sent it. One thread per client; the tally is shared by all.
//   word_tally [PORT]      then: printf 'apple\npear\napple\n' | nc -q1 127.0.0.1 PORT

#include <sockserv/server/request_handler.hpp>
#include <sockserv/server/tcp_server.hpp>
#include <sockserv/modes/threading.hpp>

#include <cstdio>
#include <map>
#include <mutex>
#include <string>

struct Tally {
    std::mutex mutex;  // thread mode: handlers run at once
    std::map<std::string, long> counts;

    long add(const std::string& word) {
        std::lock_guard lock(mutex);
        return ++counts[word];
    }
};

struct TallyHandler : sockserv::WithState<sockserv::StreamRequestHandler, Tally> {
    using WithState::WithState;
    void handle() override {
        std::string line;
        while (rfile().readline(line)) {
            while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
            if (line.empty()) continue;
            wfile().write(line + " " + std::to_string(state().add(line)) + "\n");
        }
    }
};

int main(int argc, char** argv) {
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::stoi(argv[1]) : 0);
    Tally tally;
    sockserv::ThreadingTCPServer<TallyHandler> server{{"127.0.0.1", port}, tally};
    std::printf("word_tally on port %u\n", static_cast<unsigned>(server.server_address().port()));
    std::fflush(stdout);
    server.serve_forever();
}
