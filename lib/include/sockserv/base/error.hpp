#pragma once
// How sockserv reports failures: std::system_error whose message names the call and its target
// ("bind 127.0.0.1:80: Permission denied").

#include <exception>
#include <string>
#include <system_error>

namespace sockserv {

/// Throws std::system_error for the current errno, with `what` as the context ("bind 127.0.0.1:80").
[[noreturn]] void throw_errno(const std::string& what);
[[noreturn]] void throw_errno(int error, const std::string& what);

/// A receive or send that outlived the connection's timeout.
class TimeoutError : public std::system_error {
public:
    explicit TimeoutError(const std::string& what)
        : std::system_error(std::make_error_code(std::errc::timed_out), what) {}
};

/// True for the errors that mean "the peer went away or went quiet": EPIPE, ECONNRESET, ENOTCONN,
/// ETIMEDOUT. These are normal life for a server, not something to report.
bool is_peer_gone(const std::error_code& error) noexcept;
bool is_peer_gone(const std::exception_ptr& error) noexcept;

/// While one lives, is_peer_gone(error) on this thread answers for `error` what the place that
/// caught it found, without rethrowing it to look. Every rethrow is another unwind, and a client
/// that resets is normal life: at the end of a load run thousands do, and each error was
/// rethrown three times to be classified (the unwinder was 4.3-5.0% of the server's CPU while
/// 10,000 closed, 3.1-3.3% with the rethrows gone).
class ClassifiedError {
public:
    ClassifiedError(const std::exception_ptr& error, bool peer_gone) noexcept;
    ~ClassifiedError();
    ClassifiedError(const ClassifiedError&) = delete;
    ClassifiedError& operator=(const ClassifiedError&) = delete;

private:
    friend bool is_peer_gone(const std::exception_ptr& error) noexcept;
    const std::exception_ptr& error_;
    bool peer_gone_;
    const ClassifiedError* previous_;
};

/// True for the errors that mean "the process is short of fds or memory for now": EMFILE, ENFILE,
/// ENOBUFS, ENOMEM. A server pauses on them (accepting, forking) and goes on when they pass.
bool is_out_of_resources(const std::error_code& error) noexcept;

/// An exception's what(), for a log line ("unknown exception" for one that is no std::exception).
std::string describe(const std::exception_ptr& error);

}  // namespace sockserv
