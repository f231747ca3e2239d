#include "options.hpp"

#include <algorithm>
#include <charconv>

namespace tftp {

std::optional<std::uint64_t> option_number(std::string_view text, std::uint64_t min, std::uint64_t max) {
    std::uint64_t value = 0;
    if (text.empty() || text.size() > 20) return std::nullopt;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) return std::nullopt;
    return value;
}

namespace {

std::size_t window_cap(std::size_t blksize) { return std::max<std::size_t>(1, max_window_bytes / blksize); }

}  // namespace

Negotiation negotiate(const Request& request, std::uint64_t file_size) {
    Negotiation out;
    bool seen_blksize = false, seen_timeout = false, seen_tsize = false, seen_window = false;
    // blksize first: the window cap depends on it, whatever order the client sent them in.
    for (const auto& [name, value] : request.options) {
        if (name != "blksize" || seen_blksize) continue;
        seen_blksize = true;
        const auto size = option_number(value, 0, UINT64_MAX);
        if (!size) continue;  // garbage: ignored
        if (*size < min_blksize) {
            out.refusal = "blksize " + value + " is below 8";
            return out;
        }
        out.options.blksize = static_cast<std::size_t>(std::min<std::uint64_t>(*size, max_blksize));
    }
    bool blksize_done = false;
    for (const auto& [name, value] : request.options) {
        if (name == "blksize") {
            if (!blksize_done && option_number(value, min_blksize, UINT64_MAX))
                out.oack.emplace_back("blksize", std::to_string(out.options.blksize));
            blksize_done = true;
        } else if (name == "timeout" && !seen_timeout) {
            seen_timeout = true;
            if (const auto seconds = option_number(value, 1, 255)) {
                out.options.timeout_seconds = static_cast<unsigned>(*seconds);
                out.oack.emplace_back("timeout", std::to_string(*seconds));
            }
        } else if (name == "tsize" && !seen_tsize) {
            seen_tsize = true;
            const auto size = option_number(value, 0, UINT64_MAX);
            if (!size) continue;
            if (request.write) {
                out.options.tsize = *size;
                out.oack.emplace_back("tsize", std::to_string(*size));
            } else if (file_size > 0 && !is_netascii(request.mode)) {
                out.options.tsize = file_size;
                out.oack.emplace_back("tsize", std::to_string(file_size));
            }
        } else if (name == "windowsize" && !seen_window) {
            seen_window = true;
            if (const auto window = option_number(value, 1, 65535)) {
                const auto capped = std::min<std::uint64_t>(*window, window_cap(out.options.blksize));
                out.options.windowsize = static_cast<std::uint16_t>(capped);
                out.oack.emplace_back("windowsize", std::to_string(capped));
            }
        }
    }
    return out;
}

std::optional<std::string> apply_oack(const Options& asked, const Options& oack, TransferOptions& options) {
    const auto asked_value = [&](const std::string& name) -> const std::string* {
        for (const auto& [n, v] : asked)
            if (n == name) return &v;
        return nullptr;
    };
    for (const auto& [name, value] : oack) {
        const std::string* wanted = asked_value(name);
        if (!wanted) return "the server acknowledged an option we did not ask for: " + name;
        if (name == "blksize") {
            const auto size = option_number(value, min_blksize, max_blksize);
            const auto asked_size = option_number(*wanted, min_blksize, UINT64_MAX);
            if (!size || (asked_size && *size > *asked_size)) return "bad blksize in OACK: " + value;
            options.blksize = static_cast<std::size_t>(*size);
        } else if (name == "windowsize") {
            const auto window = option_number(value, 1, 65535);
            if (!window) return "bad windowsize in OACK: " + value;
            options.windowsize = static_cast<std::uint16_t>(*window);
        } else if (name == "timeout") {
            const auto seconds = option_number(value, 1, 255);
            if (!seconds) return "bad timeout in OACK: " + value;
            options.timeout_seconds = static_cast<unsigned>(*seconds);
        } else if (name == "tsize") {
            const auto size = option_number(value, 0, UINT64_MAX);
            if (!size) return "bad tsize in OACK: " + value;
            options.tsize = *size;
        }
    }
    return std::nullopt;
}

}  // namespace tftp
