#include <sockserv/serve.hpp>

#include <unistd.h>

#include <string>

namespace sockserv::detail {

void announce(const BaseServer& server, const cli::Options& options) {
    // One write, so a test or a supervisor reading stderr gets the line whole.
    const std::string line = options.program + ": serving on " + server.server_address().to_string() +
                             " (mode: " + std::string(to_string(options.mode)) + ")\n";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

void report_setup_failure(const cli::Options& options, const std::exception& error) {
    const std::string line = options.program + ": " + error.what() + "\n";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace sockserv::detail
