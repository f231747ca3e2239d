#pragma once
// Shared<T>: one T in an anonymous MAP_SHARED mapping. Made before serving, it is the same object
// in the parent and in every forked child; ordinary memory is copied by fork(), so state kept there
// silently splits into one copy per child (Python's docs call a forking server with in-memory state
// pointless for that reason). Threads see it like any other object.
//
//   sockserv::Shared<Members> members{capacity};    // before the server forks anything
//   sockserv::ForkingUDPServer<Chat> server{address, *members};
//
// T must hold nothing that points into ordinary memory (no std::string, no std::vector): fixed-size
// members only, and locks made for processes (ProcessMutex, ArrivalOrder).

#include <sockserv/base/error.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <type_traits>
#include <utility>

namespace sockserv {

template <class T>
class Shared {
    static_assert(!std::is_array_v<T> && !std::is_reference_v<T>, "sockserv: Shared<T> holds one object");

public:
    /// Maps zeroed shared memory and constructs T in it. Throws std::system_error if mmap fails.
    template <class... Args>
    explicit Shared(Args&&... args) : owner_pid_(::getpid()) {
        void* memory = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (memory == MAP_FAILED) throw_errno("mmap shared memory");
        try {
            object_ = ::new (memory) T(std::forward<Args>(args)...);
        } catch (...) {
            ::munmap(memory, sizeof(T));
            throw;
        }
    }
    /// Only the process that made the object destroys it; a child unmapping its view leaves it be.
    ~Shared() {
        if (::getpid() == owner_pid_) object_->~T();
        ::munmap(static_cast<void*>(object_), sizeof(T));
    }
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;

    T& operator*() const noexcept { return *object_; }
    T* operator->() const noexcept { return object_; }
    T* get() const noexcept { return object_; }

private:
    T* object_ = nullptr;
    pid_t owner_pid_;
};

}  // namespace sockserv
