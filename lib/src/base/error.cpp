#include <sockserv/base/error.hpp>

#include <cerrno>

namespace sockserv {

void throw_errno(const std::string& what) { throw_errno(errno, what); }

void throw_errno(int error, const std::string& what) {
    throw std::system_error(error, std::generic_category(), what);
}

bool is_out_of_resources(const std::error_code& error) noexcept {
    if (error.category() != std::generic_category() && error.category() != std::system_category()) return false;
    const int value = error.value();
    return value == EMFILE || value == ENFILE || value == ENOBUFS || value == ENOMEM;
}

bool is_peer_gone(const std::error_code& error) noexcept {
    if (error.category() != std::generic_category() && error.category() != std::system_category()) return false;
    switch (error.value()) {
    case EPIPE:
    case ECONNRESET:
    case ENOTCONN:
    case ETIMEDOUT:
        return true;
    default:
        return false;
    }
}

namespace {
thread_local const ClassifiedError* classified = nullptr;
}  // namespace

ClassifiedError::ClassifiedError(const std::exception_ptr& error, bool peer_gone) noexcept
    : error_(error), peer_gone_(peer_gone), previous_(classified) {
    classified = this;
}

ClassifiedError::~ClassifiedError() { classified = previous_; }

bool is_peer_gone(const std::exception_ptr& error) noexcept {
    for (const ClassifiedError* known = classified; known; known = known->previous_)
        if (known->error_ == error) return known->peer_gone_;
    try {
        if (error) std::rethrow_exception(error);
    } catch (const std::system_error& e) {
        return is_peer_gone(e.code());
    } catch (...) {
    }
    return false;
}

std::string describe(const std::exception_ptr& error) {
    try {
        if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
    return "no exception";
}

}  // namespace sockserv
