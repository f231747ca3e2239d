#pragma once
// Sockets passed to the program already bound and listening: systemd's socket activation
// (sd_listen_fds(3)). systemd sets LISTEN_PID to the program's pid, LISTEN_FDS to how many fds it
// passed (from fd 3 on) and LISTEN_FDNAMES to their names (FileDescriptorName=, colon-separated).
// cli::parse() takes them once, and serve<> / serve_pair<> serve them instead of binding: each
// server takes the passed socket of its own kind (stream or datagram, Unix or IP), so tftp's UDP
// and TCP servers each find theirs whatever the order systemd passes them in. --host, --port and
// --unix are then not used: the address served is read back from the socket.

#include <string>
#include <vector>

namespace sockserv {

struct PassedSocket {
    /// 3, 4, ...: open for the life of the process (a server serves a duplicate of it), close-on-exec.
    int fd = -1;
    /// Its LISTEN_FDNAMES entry ("" when systemd gave none).
    std::string name;
    /// SOCK_STREAM, SOCK_DGRAM, ...; 0 when the fd is not a socket.
    int type = 0;
    /// AF_INET, AF_INET6, AF_UNIX, ...
    int family = 0;

    /// "fd 3 (tftp.socket, UDP datagram)", for messages.
    std::string describe() const;
};

/// The sockets passed to this process: empty unless LISTEN_PID is this process's pid. Unsets
/// LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, so that no child takes them for its own.
std::vector<PassedSocket> take_passed_sockets();

/// The passed socket a server of this kind serves: nullptr when none were passed at all.
/// Throws std::invalid_argument, naming what was passed, when sockets were passed but none is of
/// this kind, or several are (a server serves one socket).
const PassedSocket* choose_passed_socket(const std::vector<PassedSocket>& passed, bool datagram, bool want_unix);

}  // namespace sockserv
