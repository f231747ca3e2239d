#pragma once
// drain(): how every mode stops the requests it is running, in one order, written once.
//
//   1. grace      requests in progress get close_grace to end by themselves (a kept-alive client's
//                 next request is still answered, and the connection closed after it: stopping())
//   2. unblock    connections whose handler waits for an idle client are shut for reading: it
//                 sees EOF and ends; a response being sent still goes out
//   3. cut off    stop_timeout after the drain began, connections still being served are shut both
//                 ways: a handler blocked sending to a client that does not read fails and ends
//   4. join       the mode waits for its requests to end (or, where its settings say so, does not)
//
// The mode then closes the server's socket (server_close): after the join, since a datagram
// server's requests reply through it and event mode's loops still watch it until they stop.

#include <chrono>
#include <optional>

namespace sockserv {

/// The requests a mode is running, as drain() needs them.
class RunningRequests {
public:
    /// Until none is running, or the deadline; true when none is.
    virtual bool wait_idle_until(std::chrono::steady_clock::time_point deadline) = 0;
    /// shutdown(SHUT_RD) on the connections being served (SHUT_RDWR when cut_off).
    virtual void unblock_connections(bool cut_off) noexcept = 0;
    /// Waits for them all to end, as far as the mode's settings want it to (block_on_close).
    virtual void join() = 0;

protected:
    ~RunningRequests() = default;
};

/// Steps 1 to 4 above. grace 0: no grace; stop_timeout nullopt: no cut-off.
void drain(RunningRequests& running, std::chrono::milliseconds grace,
           std::optional<std::chrono::milliseconds> stop_timeout);

}  // namespace sockserv
