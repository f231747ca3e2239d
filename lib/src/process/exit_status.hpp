#pragma once
// How a child process ended, in words, for the lines the fork mode's parent and the worker pool's
// master log when one did not end well.

#include <csignal>
#include <cstring>
#include <string>

namespace sockserv::detail {

inline bool exited_cleanly(const siginfo_t& info) noexcept { return info.si_code == CLD_EXITED && info.si_status == 0; }

/// "exited with status 3", "was killed by signal 9 (SIGKILL)", "... (SIGSEGV), core dumped".
inline std::string describe_exit(const siginfo_t& info) {
    if (info.si_code == CLD_EXITED) return "exited with status " + std::to_string(info.si_status);
    const char* name = ::sigabbrev_np(info.si_status);
    return "was killed by signal " + std::to_string(info.si_status) + (name ? " (SIG" + std::string(name) + ")" : "") +
           (info.si_code == CLD_DUMPED ? ", core dumped" : "");
}

}  // namespace sockserv::detail
