#include <sockserv/server/drain.hpp>

namespace sockserv {

void drain(RunningRequests& running, std::chrono::milliseconds grace,
           std::optional<std::chrono::milliseconds> stop_timeout) {
    const auto began = std::chrono::steady_clock::now();
    if (grace.count() > 0) running.wait_idle_until(began + grace);
    running.unblock_connections(false);
    if (stop_timeout && !running.wait_idle_until(began + *stop_timeout)) running.unblock_connections(true);
    running.join();
}

}  // namespace sockserv
