#pragma once
// HttpHandler: one connection, many requests. Its handle() is the whole HTTP/1.1 session in one
// loop: wait for a request (idle time-out), read its head (header deadline, size limits), let the
// Site answer, send, log, and go round again while the connection may be kept alive.

#include "request_head.hpp"
#include "response.hpp"
#include "site.hpp"

#include <sockserv/server/request_handler.hpp>

#include <variant>

namespace http_app {

/// Builds what the request path builds lazily on first use (Beast's field-name table, the time
/// zone, the date cache) by running it once. Call before serving: in fork mode every child would
/// otherwise build it again, for every connection (measured: Beast's table and /etc/localtime
/// were a good part of a child's life).
void warm_up();

class HttpHandler : public sockserv::WithState<sockserv::StreamRequestHandler, Site> {
public:
    using WithState::WithState;

    void setup() override;
    void handle() override;

protected:
    bool disable_nagle_algorithm() const override { return true; }

private:
    /// The peer closed, or stayed silent past the idle time-out: end without a word.
    struct Closed {};
    std::variant<RequestHead, BadRequest, Closed> read_request();
    /// Drops a request body the site does not read, so the next request starts where it should.
    /// False when the connection cannot go on (chunked, too large, the peer went quiet).
    bool skip_body(const RequestHead& request);
    /// Sends the response and logs it; false when its body could not be sent whole (the file
    /// shrank). A client that resets mid-response is logged too, with the body bytes it got (as
    /// nginx does), before the error goes on to the server.
    bool send_and_log(std::string_view request_line, Response& response, bool head_only);
    bool send(Response& response, bool head_only, std::size_t& head_bytes);
    /// `body_bytes`: -1 for none ("-" in the log).
    void log(std::string_view request_line, const Response& response, long long body_bytes);

    std::string client_;  // the peer's address as logged
};

}  // namespace http_app
