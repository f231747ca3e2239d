// chat_server: the course notes' UDP group chat, in any mode. Members join with L NAME, talk with
// C NAME TEXT, leave with Q NAME; lines typed on the server's stdin go to everyone as admin: TEXT.
//   chat_server --port 8888 --mode fork
//   printf 'L alice\n' | nc -u -q1 127.0.0.1 8888

#include "chat_handler.hpp"

#include <sockserv/sockserv.hpp>

int main(int argc, char** argv) {
    sockserv::cli::Spec spec;
    spec.default_port = 8888;
    spec.summary = "UDP group chat: L NAME joins, C NAME TEXT talks, Q NAME leaves; stdin lines are announced.";
    spec.option<std::size_t>("capacity", 256, "most members at once (1..4096)")
        .option<std::size_t>("max-message", 1024, "longest message, in bytes (1..60000)")
        .option<double>("idle-timeout", 60.0, "seconds of silence before a member is dropped")
        .flag("no-admin", "do not read announcements from standard input")
        .flag("coalesce", "pack several lines for one member into one datagram (clients must split at newlines)");
    const auto options = sockserv::cli::parse(argc, argv, "chat_server", std::move(spec));

    chat::Settings settings;
    settings.max_message_bytes = options.values.get<std::size_t>("max-message");
    const double idle = options.values.get<double>("idle-timeout");
    settings.admin_console = !options.values.has("no-admin");
    settings.verbose = options.verbose;
    const std::size_t capacity = options.values.get<std::size_t>("capacity");
    auto usage_error = [](const std::string& what) -> int { sockserv::cli::usage_error("chat_server", what); };
    if (!options.unix_path.empty()) return usage_error("--unix: chat_server serves UDP (--host, --port) only");
    if (capacity < 1 || capacity > chat::Room::max_capacity) return usage_error("--capacity must be 1..4096");
    if (settings.max_message_bytes < 1 || settings.max_message_bytes > 60000)
        return usage_error("--max-message must be 1..60000");
    if (!(idle > 0) || idle > 86400 * 365) return usage_error("--idle-timeout must be a positive number of seconds");
    settings.idle_timeout = std::chrono::milliseconds(static_cast<long long>(idle * 1000));

    // Before serving: the room is made once, in shared memory, and every mode uses the same one.
    sockserv::Shared<chat::Room> room(capacity, options.values.has("coalesce"));
    chat::ChatState state{*room, settings};
    return sockserv::serve<chat::ChatServer, chat::ChatHandler>(options, state);
}
