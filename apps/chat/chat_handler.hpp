#pragma once
// The chat server: ChatHandler serves one datagram; ChatServer<Handler> is UDPServer plus the room's
// housekeeping in the serving loop (idle members dropped, the admin's stdin lines broadcast).

#include "protocol.hpp"
#include "room.hpp"

#include <sockserv/sockserv.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>

namespace chat {

struct Settings {
    std::size_t max_message_bytes = 1024;
    /// A member silent for longer is dropped (clients send H NAME while idle).
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
    /// Read admin announcements from standard input.
    bool admin_console = true;
    bool verbose = false;
};

/// What every handler shares. The room keeps its members in shared memory (Shared<Members>), so
/// fork mode's children see one room; the rest is read-only, so each child's copy is as good as
/// the parent's.
struct ChatState {
    Room& room;
    Settings settings;
};

class ChatHandler : public sockserv::WithState<sockserv::DatagramRequestHandler, ChatState> {
public:
    using WithState::WithState;
    void handle() override;

private:
    void login(std::string_view name);
    void say(std::string_view name, std::string_view text);
    void quit(std::string_view name);
    void heartbeat(std::string_view name);
    // A datagram naming a member from another address: someone speaking for them. Ignored.
    void ignore_spoof(std::string_view what, std::string_view name);
    void not_a_member();
    Room& room() noexcept { return state().room; }
};

namespace detail {
/// service_actions' share: drops idle members when due and tells the others, then flushes.
void housekeeping(const sockserv::BaseServer& server, ChatState& state, Room::Clock::time_point& next_eviction);
/// The admin's console: lines typed on the server's stdin, broadcast as announcements.
struct AdminInput {
    std::string pending;    // a line not yet complete
    bool skipping = false;  // inside a line already refused as too long
};
/// Broadcasts each complete line of the admin's input; false at EOF.
bool read_admin_input(const sockserv::BaseServer& server, ChatState& state, AdminInput& input);
/// The serving loop's wake-up interval for a given idle timeout.
std::chrono::milliseconds housekeeping_interval(std::chrono::milliseconds idle_timeout);
/// Whether stdin can be read without the process being stopped (SIGTTIN) as a background job.
bool admin_console_available();
}  // namespace detail

/// UDPServer<Handler> with the room's housekeeping. A transport template like UDPServer itself, so
/// serve<ChatServer, ChatHandler> composes it with any mode.
template <class Handler>
class ChatServer : public sockserv::UDPServer<Handler> {
public:
    ChatServer(sockserv::Address address, ChatState& state, sockserv::ServerConfig config = {})
        : sockserv::UDPServer<Handler>(std::move(address), state, tuned(config, state.settings)), state_(state) {
        if (state.settings.admin_console && detail::admin_console_available())
            this->add_reader(0, [this] {
                if (!detail::read_admin_input(*this, state_, admin_input_)) this->remove_reader(0);
            });
    }

    /// Runs in the serving loop (the parent, in fork mode) after every burst of requests — and, in
    /// thread and fork modes, when a worker finishes: flushes what the handlers queued (the room
    /// is in shared memory, so children's lines are there to send) and drops idle members.
    void service_actions() override {
        sockserv::UDPServer<Handler>::service_actions();
        state_.room.service_actions(*this);
        detail::housekeeping(*this, state_, next_eviction_);
    }
    std::optional<std::chrono::milliseconds> service_due() const override {
        const auto mine = state_.room.service_due();
        const auto theirs = sockserv::UDPServer<Handler>::service_due();
        if (mine && theirs) return std::min(*mine, *theirs);
        return mine ? mine : theirs;
    }

private:
    static sockserv::ServerConfig tuned(sockserv::ServerConfig config, const Settings& settings) {
        // The largest UDP payload: every datagram is read whole, so an oversized message is
        // refused as "message too long" (and nothing is ever relayed cut).
        config.max_packet_size = std::max<std::size_t>(65536, settings.max_message_bytes + max_name_bytes + 64);
        config.service_interval = detail::housekeeping_interval(settings.idle_timeout);
        return config;
    }
    ChatState& state_;
    detail::AdminInput admin_input_;
    Room::Clock::time_point next_eviction_{};
};

}  // namespace chat
