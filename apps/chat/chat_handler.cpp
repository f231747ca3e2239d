#include "chat_handler.hpp"

#include <sockserv/base/log.hpp>

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <utility>

namespace chat {

namespace {

template <class... F> struct Overloaded : F... { using F::operator()...; };
template <class... F> Overloaded(F...) -> Overloaded<F...>;  // clang 14 (the fuzz build) needs the guide

}  // namespace

void ChatHandler::handle() {
    // First thing, before anything can throw: every request takes its turn exactly once, so one
    // sender's messages are relayed in the order they arrived in every mode.
    sockserv::ArrivalOrder::Turn turn(room().order(), request().sequence);
    if (truncated()) {
        reply(refusal("datagram too long (max " + std::to_string(server().config().max_packet_size) + " bytes)"));
        return;
    }
    std::visit(Overloaded{
                   [&](const Malformed& bad) { reply(refusal(bad.reason)); },
                   [&](const Login& command) { login(command.name); },
                   [&](const Say& command) { say(command.name, command.text); },
                   [&](const Quit& command) { quit(command.name); },
                   [&](const Heartbeat& command) { heartbeat(command.name); },
               },
               parse(packet(), state().settings.max_message_bytes));
}

void ChatHandler::login(std::string_view name) {
    switch (room().join(server(), name, client_address(), Room::Clock::now())) {
    case Room::Join::joined:
        // Now, with the room's turn held, not in finish(): from the moment the member is in the
        // room, lines are relayed to it (from other nodes' members too), and its OK comes first.
        sendto(ok(), client_address());
        return;
    case Room::Join::again:
        reply(ok());
        return;
    case Room::Join::pending:
        // A room shared with other servers answers once they agree the name is this member's
        // (OK, or "name is taken" when another server granted it first): never OK, then taken.
        return;
    case Room::Join::name_taken:
        reply(refusal("name is taken"));
        return;
    case Room::Join::address_taken:
        reply(refusal("already in the room as " + room().name_at(client_address()).value_or("?")));
        return;
    case Room::Join::full:
        reply(refusal("room is full (" + std::to_string(room().capacity()) + " members)"));
        return;
    }
}

void ChatHandler::say(std::string_view name, std::string_view text) {
    if (room().say(server(), name, client_address(), text, Room::Clock::now())) return;
    if (room().has(name))
        ignore_spoof("C", name);
    else
        not_a_member();
}

void ChatHandler::quit(std::string_view name) {
    if (room().leave(server(), name, client_address())) return;
    if (room().has(name))
        ignore_spoof("Q", name);
    // Not a member: nothing to leave, and nothing to say to someone who is leaving.
}

void ChatHandler::heartbeat(std::string_view name) {
    if (room().touch(name, client_address(), Room::Clock::now())) return;
    if (room().has(name))
        ignore_spoof("H", name);
    else
        not_a_member();  // dropped for silence (a laptop lid closed): the client learns it
}

void ChatHandler::ignore_spoof(std::string_view what, std::string_view name) {
    if (state().settings.verbose)
        sockserv::log("chat_server: ignored " + std::string(what) + " for " + std::string(name) + " from " +
                 client_address().to_string() + ": not their address");
}

// Said to a sender the room does not know, so a client dropped for silence learns it.
void ChatHandler::not_a_member() { reply(refusal("not in the room (send L NAME to join)")); }

namespace detail {

void housekeeping(const sockserv::BaseServer& server, ChatState& state, Room::Clock::time_point& next_eviction) {
    std::lock_guard lock(state.room.order());
    const auto now = Room::Clock::now();
    if (now >= next_eviction) {
        next_eviction = now + housekeeping_interval(state.settings.idle_timeout);
        for (const std::string& name : state.room.evict_idle(server, now, state.settings.idle_timeout))
            if (state.settings.verbose) sockserv::log("chat_server: " + name + " dropped: silent for too long");
    }
    state.room.flush(server);
}

bool read_admin_input(const sockserv::BaseServer& server, ChatState& state, AdminInput& input) {
    char buffer[4096];
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
    const std::size_t max = state.settings.max_message_bytes;
    const std::string too_long = "chat_server: announcement not sent: message too long (max " + std::to_string(max) + " bytes)";
    std::string& pending = input.pending;
    pending.append(buffer, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
        if (std::exchange(input.skipping, false)) continue;  // the tail of a refused line
        std::string_view text(pending.data() + start, end - start);
        if (text.ends_with('\r')) text.remove_suffix(1);
        if (text.empty()) continue;
        if (auto problem = text_problem(text, max)) {
            sockserv::log("chat_server: announcement not sent: " + *problem);
            continue;
        }
        std::lock_guard lock(state.room.order());
        state.room.announce(server, text);  // flushed after this wake-up
    }
    pending.erase(0, start);
    // A line longer than any message can be: refuse it now, and the rest of it when it comes,
    // rather than buffer without bound or send its tail as if it were a line.
    if (pending.size() > max + 1) {
        if (!input.skipping) sockserv::log(too_long);
        input.skipping = true;
        pending.clear();
    }
    return true;
}

std::chrono::milliseconds housekeeping_interval(std::chrono::milliseconds idle_timeout) {
    // A quarter of the timeout: a silent member is gone within 1.25x the timeout.
    return std::clamp(idle_timeout / 4, std::chrono::milliseconds(20), std::chrono::milliseconds(5000));
}

bool admin_console_available() {
    // A background job reading its terminal is stopped by SIGTTIN; only read it in the foreground.
    if (!::isatty(STDIN_FILENO)) return true;
    return ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();
}

}  // namespace detail
}  // namespace chat
