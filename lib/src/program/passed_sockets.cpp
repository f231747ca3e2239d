#include <sockserv/program/passed_sockets.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

namespace sockserv {

namespace {

constexpr int first_passed_fd = 3;  // SD_LISTEN_FDS_START

bool parse_whole(const char* text, long& value) {
    if (text == nullptr) return false;
    const std::string_view view(text);
    const auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
    return !view.empty() && ec == std::errc{} && end == view.data() + view.size();
}

bool fits(const PassedSocket& socket, bool datagram, bool want_unix) {
    const bool family_fits = want_unix ? socket.family == AF_UNIX : (socket.family == AF_INET || socket.family == AF_INET6);
    return family_fits && socket.type == (datagram ? SOCK_DGRAM : SOCK_STREAM);
}

std::string list(const std::vector<PassedSocket>& passed) {
    std::string text;
    for (const PassedSocket& socket : passed) text += (text.empty() ? "" : ", ") + socket.describe();
    return text;
}

}  // namespace

std::string PassedSocket::describe() const {
    std::string kind;
    if (type == 0) {
        kind = "not a socket";
    } else {
        kind = family == AF_UNIX ? "Unix" : family == AF_INET6 ? "IPv6" : family == AF_INET ? "IPv4" : "other family";
        kind += type == SOCK_STREAM ? " stream" : type == SOCK_DGRAM ? " datagram" : " other type";
    }
    return "fd " + std::to_string(fd) + " (" + (name.empty() ? "" : name + ", ") + kind + ")";
}

std::vector<PassedSocket> take_passed_sockets() {
    long pid = 0;
    long count = 0;
    const bool ours = parse_whole(std::getenv("LISTEN_PID"), pid) && pid == ::getpid() &&
                      parse_whole(std::getenv("LISTEN_FDS"), count) && count > 0 && count < 4096;
    std::vector<std::string> names;
    if (const char* text = std::getenv("LISTEN_FDNAMES"); ours && text != nullptr) {
        std::string_view rest(text);
        for (;;) {
            const auto colon = rest.find(':');
            names.emplace_back(rest.substr(0, colon));
            if (colon == std::string_view::npos) break;
            rest.remove_prefix(colon + 1);
        }
    }
    // As sd_listen_fds(1): a fork-mode child or anything the program starts must not take them.
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    std::vector<PassedSocket> passed;
    if (!ours) return passed;
    // Names count only if there is one per fd (systemd always gives one each, "unknown" by default).
    if (names.size() != static_cast<std::size_t>(count)) names.assign(static_cast<std::size_t>(count), "");
    for (long i = 0; i < count; ++i) {
        PassedSocket socket;
        socket.fd = first_passed_fd + static_cast<int>(i);
        socket.name = names[static_cast<std::size_t>(i)];
        struct stat info {};
        if (::fstat(socket.fd, &info) != 0) continue;  // not open: nothing to serve or close
        ::fcntl(socket.fd, F_SETFD, FD_CLOEXEC);
        socklen_t length = sizeof socket.type;
        if (!S_ISSOCK(info.st_mode) || ::getsockopt(socket.fd, SOL_SOCKET, SO_TYPE, &socket.type, &length) != 0) {
            socket.type = 0;
        } else {
            length = sizeof socket.family;
            if (::getsockopt(socket.fd, SOL_SOCKET, SO_DOMAIN, &socket.family, &length) != 0) socket.family = 0;
        }
        passed.push_back(std::move(socket));
    }
    return passed;
}

const PassedSocket* choose_passed_socket(const std::vector<PassedSocket>& passed, bool datagram, bool want_unix) {
    if (passed.empty()) return nullptr;
    const PassedSocket* chosen = nullptr;
    for (const PassedSocket& socket : passed) {
        if (!fits(socket, datagram, want_unix)) continue;
        if (chosen != nullptr)
            throw std::invalid_argument("systemd passed several sockets for one " +
                                        std::string(want_unix ? "Unix" : "IP") + (datagram ? " datagram" : " stream") +
                                        " server: " + list(passed) + " (it serves one)");
        chosen = &socket;
    }
    if (chosen == nullptr)
        throw std::invalid_argument("systemd passed " + list(passed) + ", but this server needs a" +
                                    (want_unix ? " Unix" : "n IP") + (datagram ? " datagram" : " stream") + " socket");
    return chosen;
}

}  // namespace sockserv
