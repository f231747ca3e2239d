#pragma once
// Option negotiation (RFC 2347 framework; blksize RFC 2348, timeout and tsize RFC 2349,
// windowsize RFC 7440). The OACK carries only options the client asked for and we accept; unknown
// or garbage options are ignored, never fatal.

#include "packet.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace tftp {

constexpr std::size_t default_blksize = 512;
constexpr std::size_t min_blksize = 8;
constexpr std::size_t max_blksize = 65464;
/// A window is sent as one burst: window x blksize is capped so a burst fits a default socket
/// receive buffer (~208 KiB) with room to spare, instead of overflowing it and losing the tail.
constexpr std::size_t max_window_bytes = 128 * 1024;

struct TransferOptions {
    std::size_t blksize = default_blksize;
    std::uint16_t windowsize = 1;
    std::optional<unsigned> timeout_seconds;
    std::optional<std::uint64_t> tsize;
};

struct Negotiation {
    TransferOptions options;
    /// The options to acknowledge, in the client's order; empty: no OACK (plain RFC 1350).
    Options oack;
    /// Set when the request must be refused with ERROR 8.
    std::optional<std::string> refusal;
};

/// The server's side. `file_size`: an RRQ's file size (tsize is answered with it, except for an
/// empty file — curl rejects "tsize 0" — and in netascii, whose size on the wire is not the file's).
Negotiation negotiate(const Request& request, std::uint64_t file_size);

/// The client's side: checks an OACK against what was asked (no option we did not ask for, no
/// blksize larger than asked) and applies it. Returns the problem, if any (answered with ERROR 8).
std::optional<std::string> apply_oack(const Options& asked, const Options& oack, TransferOptions& options);

/// Decimal value in [min, max], or nullopt for anything else (signs, junk, overflow).
std::optional<std::uint64_t> option_number(std::string_view text, std::uint64_t min, std::uint64_t max);

}  // namespace tftp
