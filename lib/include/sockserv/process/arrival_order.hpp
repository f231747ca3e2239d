#pragma once
// ArrivalOrder: a lock that concurrent handlers take in the order their requests arrived.
//
// The serving loop numbers requests as it reads them (Request::sequence); threads and forked
// children then race, and request 8 may reach a lock before request 7. For a datagram protocol
// where order matters (a chat relaying one sender's messages) that reorders what clients see.
// lock_in_turn(sequence) waits until every earlier request has had its turn, so the sections run
// in arrival order while the rest of each handler still runs concurrently. It lives in shared
// memory to work across fork (Shared<T>); it works between threads as it is.
//
//   void handle() override {
//       sockserv::ArrivalOrder::Turn turn(state().order, request().sequence);
//       ...                                       // exclusive, in arrival order
//   }
//
// Every request the server numbered must take its turn once (or the next waits out `patience`):
// a handler that uses ArrivalOrder takes its turn first thing, before anything that may throw.
// A request that never comes (its child crashed, fork failed) costs the next one `patience`,
// after which order resumes. On an event-mode fiber the waits give way to the loop's other fibers
// instead of blocking its thread.

#include <sockserv/process/process_mutex.hpp>

#include <pthread.h>

#include <chrono>
#include <cstdint>

namespace sockserv {

class ArrivalOrder {
public:
    explicit ArrivalOrder(std::chrono::milliseconds patience = std::chrono::seconds(1));
    ~ArrivalOrder();
    ArrivalOrder(const ArrivalOrder&) = delete;
    ArrivalOrder& operator=(const ArrivalOrder&) = delete;

    /// Blocks until requests 0 .. sequence-1 have all had their turn (or `patience` passed without
    /// progress), then holds the lock. unlock() hands the turn on. Thread and process safe.
    void lock_in_turn(std::uint64_t sequence);
    /// The same lock, taken out of turn: for housekeeping that is not a request (the serving loop
    /// evicting idle members, say). Lockable, so std::lock_guard works.
    void lock();
    void unlock() noexcept;

    /// Holds the lock in turn for a scope.
    class Turn {
    public:
        Turn(ArrivalOrder& order, std::uint64_t sequence) : order_(order) { order_.lock_in_turn(sequence); }
        ~Turn() { order_.unlock(); }
        Turn(const Turn&) = delete;
        Turn& operator=(const Turn&) = delete;

    private:
        ArrivalOrder& order_;
    };

private:
    void lock_in_turn_on_fiber(std::uint64_t sequence);
    // One condition per residue of the sequence: handing the turn on wakes only the waiters whose
    // turn it may be, not every waiter (with hundreds queued, a single broadcast condition made
    // each hand-over wake them all: quadratic).
    static constexpr std::size_t slots = 64;
    ProcessMutex mutex_;
    pthread_cond_t turn_changed_[slots];
    std::chrono::milliseconds patience_;
    std::uint64_t next_ = 0;       // the sequence whose turn it is
    std::int64_t holder_ = -1;     // the sequence holding the lock in turn; -1 out of turn
};

}  // namespace sockserv
