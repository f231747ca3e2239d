#pragma once
// The one table of modes. A mode is a policy over a composed server — a template Policy<Server>,
// as ThreadingMixIn<TCPServer<Handler>> — with a name and a help line. serve<> and serve_pair<>
// dispatch through with_mode(); --help and the error for an unknown --mode list the table's names.
// Adding a mode: a header for its policy, a value in Mode (mode.hpp), and a line here.

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
    ModeEntry<ThreadingMixIn>{{Mode::thread, "thread", "a thread per request, at most --max-threads", true}},
    ModeEntry<ForkingMixIn>{{Mode::fork, "fork", "a process per request, at most --max-children", true}},
    ModeEntry<EventMode>{{Mode::event, "event", "fibers on --threads epoll loops: thousands of connections", true}},
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
