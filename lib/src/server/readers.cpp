#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/server/readers.hpp>

#include <algorithm>
#include <string>

namespace sockserv {

void Readers::add(int fd, std::function<void()> on_readable) {
    remove(fd);
    readers_.push_back({fd, std::move(on_readable)});
    ++version_;
}

void Readers::remove(int fd) noexcept {
    if (std::erase_if(readers_, [fd](const Reader& reader) { return reader.fd == fd; }) > 0) ++version_;
}

std::vector<int> Readers::fds() const {
    std::vector<int> fds;
    for (const Reader& reader : readers_) fds.push_back(reader.fd);
    return fds;
}

void Readers::run(int fd) noexcept {
    const auto reader = std::find_if(readers_.begin(), readers_.end(), [fd](const Reader& r) { return r.fd == fd; });
    if (reader == readers_.end()) return;  // removed by an earlier callback of this round
    try {
        // A copy: the callback may remove itself, destroying the stored function mid-call.
        const std::function<void()> callback = reader->on_readable;
        callback();
    } catch (...) {
        try {
            log("Exception in the reader of fd ", std::to_string(fd), ": ", describe(std::current_exception()));
        } catch (...) {
        }
    }
}

}  // namespace sockserv
