#pragma once
// What both of tftp_server's handlers share: the files, and how transfers are tuned.

#include "files.hpp"
#include "netascii.hpp"
#include "transfer.hpp"

#include <sockserv/process/metrics.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace tftp {

/// What tftp_server counts beside the framework (--metrics): transfers (TFTP over UDP, and the
/// file service's gets and puts over TCP) by outcome, and the file bytes they moved.
struct TftpMetrics {
    TftpMetrics() = default;
    explicit TftpMetrics(sockserv::metrics::Registry* registry);
    sockserv::metrics::Counter done, failed, refused;
    sockserv::metrics::Counter bytes_sent, bytes_received;
};

struct Service {
    Files files;
    /// --port-range LOW:HIGH: the ports transfers use (for firewalls); nullopt: any ephemeral port.
    std::optional<std::pair<std::uint16_t, std::uint16_t>> port_range;
    /// Time-outs, retries and dally for every UDP transfer (options may change the time-out).
    TransferSettings transfer;
    bool verbose = false;
    /// --request-max-age: a request that waited longer than this in the socket's queue is dropped
    /// (unless its timeout option says the client waits longer before sending it again).
    std::chrono::milliseconds request_max_age{3000};
    TftpMetrics metrics;
};

/// A file's bytes as DATA payloads: read from the file, netascii-encoded when asked.
class FileSource : public Source {
public:
    FileSource(int fd, bool netascii) : fd_(fd), netascii_(netascii) {}
    std::size_t read(char* buffer, std::size_t n) override;

private:
    int fd_;
    bool netascii_;
    std::string pending_;  // encoded bytes that did not fit the last block
    bool eof_ = false;
};

/// DATA payloads into an Upload (netascii-decoded when asked); committed at the end.
class UploadSink : public Sink {
public:
    UploadSink(Upload& upload, bool netascii) : upload_(upload), netascii_(netascii) {}
    void write(std::string_view bytes) override;
    void finish() override;

private:
    Upload& upload_;
    bool netascii_;
    NetasciiDecoder decoder_;
    std::string decoded_;
};

}  // namespace tftp
