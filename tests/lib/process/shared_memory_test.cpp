// Shared<T>, ProcessMutex and ArrivalOrder: state that forked children and threads really share,
// and handlers that restore the order requests arrived in.

#include <sockserv/process/arrival_order.hpp>
#include <sockserv/process/process_mutex.hpp>
#include <sockserv/process/shared_memory.hpp>

#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

using namespace sockserv;
using namespace std::chrono_literals;

namespace {

struct Counter {
    ProcessMutex mutex;
    long value = 0;
};

struct Log {
    ArrivalOrder order{2s};
    std::array<long, 256> entries{};
    std::size_t size = 0;
    void append(long entry) { entries[size++] = entry; }
    std::vector<long> items() const { return {entries.begin(), entries.begin() + static_cast<long>(size)}; }
};

// Forks a child that runs body and _exits with its result; the parent gets the pid.
template <class Body>
pid_t fork_child(Body body) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(body());
    REQUIRE(pid > 0);
    return pid;
}

int wait_exit_code(pid_t pid) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

std::vector<long> iota(long count) {
    std::vector<long> values;
    for (long i = 0; i < count; ++i) values.push_back(i);
    return values;
}

}  // namespace

TEST_CASE("Shared<T> is one object across fork - a ProcessMutex keeps it consistent", "[shared][fork]") {
    Shared<Counter> counter;
    std::vector<pid_t> children;
    for (int c = 0; c < 4; ++c)
        children.push_back(fork_child([&] {
            for (int i = 0; i < 5000; ++i) {
                std::lock_guard lock(counter->mutex);
                ++counter->value;
            }
            return 0;
        }));
    for (int i = 0; i < 5000; ++i) {
        std::lock_guard lock(counter->mutex);
        ++counter->value;
    }
    for (const pid_t child : children) CHECK(wait_exit_code(child) == 0);
    CHECK(counter->value == 25000);
}

TEST_CASE("a ProcessMutex whose holder died is taken over - not deadlocked", "[shared][fork]") {
    Shared<Counter> counter;
    const pid_t child = fork_child([&] {
        counter->mutex.lock();
        counter->value = 7;
        return 0;  // _exit while holding the lock
    });
    CHECK(wait_exit_code(child) == 0);
    counter->mutex.lock();
    CHECK(counter->mutex.owner_died());
    CHECK(counter->value == 7);
    counter->mutex.unlock();
    counter->mutex.lock();  // usable again, and no longer marked
    CHECK_FALSE(counter->mutex.owner_died());
    counter->mutex.unlock();
}

TEST_CASE("ArrivalOrder runs threads started in reverse in sequence order", "[shared][thread]") {
    Log log;
    std::vector<std::thread> threads;
    for (long sequence = 63; sequence >= 0; --sequence)
        threads.emplace_back([&log, sequence] {
            ArrivalOrder::Turn turn(log.order, static_cast<std::uint64_t>(sequence));
            log.append(sequence);
        });
    for (auto& thread : threads) thread.join();
    CHECK(log.items() == iota(64));
}

TEST_CASE("ArrivalOrder orders forked children started in reverse", "[shared][fork]") {
    Shared<Log> log;
    std::vector<pid_t> children;
    for (long sequence = 15; sequence >= 0; --sequence)
        children.push_back(fork_child([&log, sequence] {
            ArrivalOrder::Turn turn(log->order, static_cast<std::uint64_t>(sequence));
            log->append(sequence);
            return 0;
        }));
    for (const pid_t child : children) CHECK(wait_exit_code(child) == 0);
    CHECK(log->items() == iota(16));
}

TEST_CASE("ArrivalOrder skips a request that never comes after its patience", "[shared][thread]") {
    ArrivalOrder order(100ms);
    const auto start = std::chrono::steady_clock::now();
    order.lock_in_turn(1);  // 0 never takes its turn
    const auto waited = std::chrono::steady_clock::now() - start;
    order.unlock();
    CHECK(waited >= 100ms);
    CHECK(waited < 2s);
    // The late one, and the next in line, go at once.
    const auto late = std::chrono::steady_clock::now();
    order.lock_in_turn(0);
    order.unlock();
    order.lock_in_turn(2);
    order.unlock();
    CHECK(std::chrono::steady_clock::now() - late < 50ms);
}

TEST_CASE("ArrivalOrder's plain lock excludes turns without taking one", "[shared][thread]") {
    ArrivalOrder order;
    order.lock();
    std::atomic<bool> entered{false};
    std::atomic<pid_t> tid{0};
    std::thread first([&] {
        tid = test::current_tid();
        ArrivalOrder::Turn turn(order, 0);
        entered = true;
    });
    REQUIRE(test::eventually([&] { return tid.load() != 0; }));
    CHECK(test::blocked_in_futex(tid));  // waiting on the lock, not past it
    CHECK_FALSE(entered);
    order.unlock();
    first.join();
    CHECK(entered);
    ArrivalOrder::Turn next(order, 1);  // 0's turn was handed on: no wait
}
