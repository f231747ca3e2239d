#pragma once
// The one table of modes. A mode is a policy over a composed server — a template Policy<Server>,
// as ThreadingMixIn<TCPServer<Handler>> — with a name, a help line and its own options (declared
// beside the policy, applied to its part of ServerConfig). serve<> and serve_pair<> dispatch
// through with_mode(); the command line declares every mode's options from here; --help and the
// error for an unknown --mode list the table's names; the tests run each per-mode case in every
// mode of the table (tests/support/modes.hpp).
// Adding a mode: a header for its policy and its options, a value in Mode (mode.hpp), a line here.

#include <sockserv/modes/event_mode.hpp>
#include <sockserv/modes/forking.hpp>
#include <sockserv/modes/mode.hpp>
#include <sockserv/modes/threading.hpp>

#include <tuple>
#include <type_traits>

namespace sockserv {

/// Sync mode's policy: the server as it is, one request at a time in the serving thread.
template <class Server> using SyncMode = Server;

template <template <class> class Policy>
struct ModeEntry : ModeInfo {
    template <class Server> using policy = Policy<Server>;
};

inline constexpr std::tuple mode_table{
    ModeEntry<SyncMode>{{Mode::sync, "sync", "one request at a time", false}},
    ModeEntry<ThreadingMixIn>{{Mode::thread, "thread", "a thread per request, at most --max-threads", true, thread_mode_options}},
    ModeEntry<ForkingMixIn>{{Mode::fork, "fork", "a process per request, at most --max-children", true, fork_mode_options}},
    ModeEntry<EventMode>{{Mode::event, "event", "fibers on --loops epoll loops: thousands of connections", true, event_mode_options}},
};

/// Calls f.template operator()<Policy>() with the policy `mode` names: the one place a run-time
/// mode becomes a compile-time composition.
///   with_mode(mode, [&]<template <class> class Policy>() { return run<Policy<TCPServer<H>>>(); });
template <class F>
int with_mode(Mode mode, F&& f) {
    int result = 2;
    std::apply(
        [&](const auto&... entry) {
            (void)((entry.mode == mode &&
                    (result = f.template operator()<std::remove_cvref_t<decltype(entry)>::template policy>(), true)) ||
                   ...);
        },
        mode_table);
    return result;
}

}  // namespace sockserv
