// sockserv::log: each line whole, in one write, whatever its length (a short line from a small
// buffer, a longer one from a page on the stack, a longer still from the heap); errno untouched.

#include <sockserv/base/log.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

// What log() writes while stderr is the write end of a datagram socket pair: each write(2) is one
// datagram, so the test sees the writes themselves, not just the bytes.
std::vector<std::string> writes_of(const std::vector<std::string>& lines) {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) == 0);
    const int saved = ::dup(STDERR_FILENO);
    REQUIRE(::dup2(pair[1], STDERR_FILENO) == STDERR_FILENO);
    for (const std::string& line : lines) {
        errno = EAGAIN;
        sockserv::log("start ", line, " end");
        CHECK(errno == EAGAIN);
    }
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(pair[1]);
    std::vector<std::string> writes;
    std::string buffer(1 << 16, '\0');
    for (ssize_t n; (n = ::recv(pair[0], buffer.data(), buffer.size(), 0)) > 0;)
        writes.emplace_back(buffer.data(), static_cast<std::size_t>(n));
    ::close(pair[0]);
    return writes;
}

}  // namespace

TEST_CASE("log writes each line whole in one write, short, page-sized or longer", "[log]") {
    const std::vector<std::string> lines{"", "x", std::string(490, 'a'), std::string(501, 'b'), std::string(3000, 'c'),
                                         std::string(sockserv::log_inline_bytes, 'd'), std::string(20000, 'e')};
    const auto writes = writes_of(lines);
    REQUIRE(writes.size() == lines.size());
    for (std::size_t i = 0; i < lines.size(); ++i) CHECK(writes[i] == "start " + lines[i] + " end\n");
}
