#pragma once
// HandlerServer: binds a transport to a handler type. It is what makes TCPServer<Handler> build a
// Handler per request, and hands it the typed state the server was given.

#include <sockserv/server/base_server.hpp>
#include <sockserv/server/request_handler.hpp>

#include <utility>

namespace sockserv {

namespace detail {
struct NoState {};
template <class H> struct StateOf { using type = NoState; };
template <StatefulHandler H> struct StateOf<H> { using type = typename H::state_type; };
}  // namespace detail

template <class Transport, class Handler>
class HandlerServer : public Transport {
    static_assert(std::derived_from<Handler, BaseRequestHandler>,
                  "sockserv: the Handler must derive from StreamRequestHandler, DatagramRequestHandler "
                  "or BaseRequestHandler");
    static_assert(RequestHandler<Handler>,
                  "sockserv: the Handler must be constructible from (Request&, BaseServer&) — add "
                  "`using StreamRequestHandler::StreamRequestHandler;` — or, with a state_type, from "
                  "(Request&, BaseServer&, state_type&) — add `using WithState::WithState;`");

public:
    using handler_type = Handler;
    using state_type = typename detail::StateOf<Handler>::type;

    explicit HandlerServer(Address server_address, ServerConfig config = {})
        requires(!StatefulHandler<Handler>)
        : Transport(std::move(server_address), std::move(config)) {}

    /// state is shared by every handler by reference; it must outlive the server. In fork mode each
    /// child gets a copy unless state lives in shared memory.
    HandlerServer(Address server_address, state_type& state, ServerConfig config = {})
        requires StatefulHandler<Handler>
        : Transport(std::move(server_address), std::move(config)), state_(&state) {}

    [[gnu::hot]] void finish_request(Request& request) override {
        if constexpr (requires { this->start_connection(request); })
            if (!this->start_connection(request)) return;
        if constexpr (StatefulHandler<Handler>) {
            Handler handler(request, *this, *state_);
            handler.run();
        } else {
            Handler handler(request, *this);
            handler.run();
        }
    }

    state_type& state() noexcept requires StatefulHandler<Handler> { return *state_; }

private:
    state_type* state_ = nullptr;
};

}  // namespace sockserv
