#include "service.hpp"

#include <cerrno>
#include <cstring>

#include <unistd.h>

namespace tftp {

TftpMetrics::TftpMetrics(sockserv::metrics::Registry* registry) {
    if (!registry) return;
    const char* help = "File transfers (TFTP over UDP, the file service's gets and puts over TCP), by outcome.";
    done = registry->counter("tftp_transfers_total", help, {.labels = "outcome=\"done\""});
    failed = registry->counter("tftp_transfers_total", help, {.labels = "outcome=\"failed\""});
    refused = registry->counter("tftp_transfers_total", help, {.labels = "outcome=\"refused\""});
    const char* bytes = "File bytes moved by transfers, by direction (sent: downloads, received: uploads).";
    bytes_sent = registry->counter("tftp_file_bytes_total", bytes, {.labels = "direction=\"sent\""});
    bytes_received = registry->counter("tftp_file_bytes_total", bytes, {.labels = "direction=\"received\""});
}

std::size_t FileSource::read(char* buffer, std::size_t n) {
    auto read_file = [this](char* into, std::size_t size) -> std::size_t {
        std::size_t got = 0;
        while (got < size) {
            const ssize_t r = ::read(fd_, into + got, size - got);
            if (r < 0) {
                if (errno == EINTR) continue;
                throw ProtocolError(0, "read error");
            }
            if (r == 0) break;
            got += static_cast<std::size_t>(r);
        }
        return got;
    };
    if (!netascii_) return read_file(buffer, n);
    // Encoding expands the text, so it is encoded a chunk ahead and handed out n bytes at a time.
    while (pending_.size() < n && !eof_) {
        char chunk[16384];
        const std::size_t got = read_file(chunk, sizeof chunk);
        if (got < sizeof chunk) eof_ = true;
        netascii_encode(std::string_view(chunk, got), pending_);
    }
    const std::size_t out = std::min(n, pending_.size());
    std::memcpy(buffer, pending_.data(), out);
    pending_.erase(0, out);
    return out;
}

void UploadSink::write(std::string_view bytes) {
    if (!netascii_) {
        upload_.write(bytes);
        return;
    }
    decoded_.clear();
    decoder_.decode(bytes, decoded_);
    upload_.write(decoded_);
}

void UploadSink::finish() {
    if (netascii_) {
        decoded_.clear();
        decoder_.finish(decoded_);
        upload_.write(decoded_);
    }
    upload_.commit();
}

}  // namespace tftp
