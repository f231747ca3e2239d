#pragma once
// The client side, for tftp_client: the TCP file service (one connection, several commands) and
// TFTP over UDP (get and put with options), both writing downloads atomically (NAME.part, renamed
// when complete).

#include "options.hpp"
#include "progress.hpp"

#include <sockserv/base/address.hpp>
#include <sockserv/io/socket.hpp>
#include <sockserv/io/stream.hpp>
#include <sockserv/io/tls_stream.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tftp {

/// A command that failed: the server's error (code and message) or a local problem (code 0).
struct ClientError : std::runtime_error {
    ClientError(std::uint16_t error_code, const std::string& message) : std::runtime_error(message), code(error_code) {}
    std::uint16_t code;
};

class FileServiceClient {
public:
    /// Connects; with tls, over TLS, checking the server's certificate for server_name (as typed:
    /// a host name or an address). Throws std::system_error, tls::HandshakeError.
    explicit FileServiceClient(const sockserv::Address& server, const sockserv::tls::ClientContext* tls = nullptr,
                               const std::string& server_name = {});
    std::vector<std::pair<std::string, std::uint64_t>> list();
    /// Each returns the bytes moved; `show_progress` draws a bar when stderr is a terminal.
    std::uint64_t get(const std::string& name, const std::filesystem::path& local, bool show_progress);
    std::uint64_t put(const std::filesystem::path& local, const std::string& name, bool show_progress);

private:
    sockserv::Socket socket_;
    std::unique_ptr<sockserv::ByteStream> stream_;
    std::unique_ptr<sockserv::SocketWriter> out_;
    std::unique_ptr<sockserv::SocketReader> in_;
};

struct UdpOptions {
    std::optional<std::size_t> blksize;
    std::optional<std::uint16_t> windowsize;
    bool netascii = false;
    std::chrono::milliseconds timeout{1000};
    int retries = 5;
};

std::uint64_t udp_get(const sockserv::Address& server, const std::string& name, const std::filesystem::path& local,
                      const UdpOptions& options, bool show_progress);
std::uint64_t udp_put(const sockserv::Address& server, const std::filesystem::path& local, const std::string& name,
                      const UdpOptions& options, bool show_progress);

}  // namespace tftp
