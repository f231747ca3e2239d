#include "http_handler.hpp"
#include "access_log.hpp"

#include <sockserv/server/base_server.hpp>
#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>

#include <chrono>
#include <ctime>

#include <sys/socket.h>

namespace http_app {


namespace {

// Bodies up to this size are read and dropped to keep the connection; larger ones close it.
constexpr std::uint64_t max_skipped_body = 64 * 1024;

BadRequest refusal(HeadScan::State state, std::string_view received) {
    const std::string line(first_line(received));
    switch (state) {
    case HeadScan::request_line_too_long: return {414, "Request-URI Too Long", line};
    case HeadScan::header_line_too_long: return {431, "Line too long", line};
    case HeadScan::too_many_headers: return {431, "Too many headers", line};
    case HeadScan::not_a_request: return {400, "Bad request syntax", line};
    default: return {431, "Request header fields too large", line};
    }
}

// A client seen through a dual-stack socket is ::ffff:a.b.c.d; the log shows a.b.c.d.
std::string client_host(const sockserv::Address& address) {
    std::string host = address.host();
    if (host.starts_with("::ffff:") && host.find('.') != std::string::npos) host.erase(0, 7);
    return host;
}

}  // namespace

void warm_up() {
    ::tzset();
    (void)access_line("-", std::time(nullptr), "", 200, 0);
    (void)parse_head("GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n");
    Response response = error_response(404, "warm-up");
    (void)serialize_head(response);
}

void HttpHandler::setup() {
    StreamRequestHandler::setup();
    // Idle waits are bounded by the socket's receive time-out (no extra system call per request);
    // the head's total time by fill_before's deadline; a stalled download by the send time-out.
    connection().set_receive_timeout(state().options().idle_timeout);
    connection().set_send_timeout(state().options().send_timeout);
    // SO_SNDBUF (256 KiB) and TCP_NODELAY come from the listener (http_server sets them there).
}

void HttpHandler::handle() {
    for (;;) {
        auto next = read_request();
        if (std::holds_alternative<Closed>(next)) return;
        if (auto* bad = std::get_if<BadRequest>(&next)) {
            // After a malformed head nothing that follows can be trusted to start a request.
            Response response = error_response(bad->status, bad->message);
            response.head.keep_alive(false);
            send_and_log(bad->request_line, response, false);
            lingering_close();
            return;
        }
        const RequestHead& request = std::get<RequestHead>(next);
        const bool head_only = request.method == "HEAD";
        Response response = state().respond(request);

        const bool body_skippable = !request.chunked && request.content_length.value_or(0) <= max_skipped_body;
        // A stopping server (a pool's reload draining this worker) answers, then closes: the
        // client opens its next connection to a worker that goes on serving.
        bool keep_alive = state().options().keep_alive && request.keep_alive && body_skippable &&
                          response.status() != 501 &&  // a 501 request's body is not ours to parse
                          !server().stopping();
        response.head.version(request.version >= 11 ? 11 : 10);
        response.head.keep_alive(keep_alive);
        keep_alive = send_and_log(request.request_line, response, head_only) && keep_alive;
        if (!keep_alive) {
            if (request.chunked || request.content_length.value_or(0) > 0) lingering_close();
            else wfile().flush_before_close();  // the server closes next: the FIN rides with the answer
            return;
        }
        if (!skip_body(request)) return;
    }
}

std::variant<RequestHead, BadRequest, HttpHandler::Closed> HttpHandler::read_request() {
    sockserv::SocketReader& in = rfile();
    std::optional<std::chrono::steady_clock::time_point> deadline;
    for (;;) {
        const HeadScan scan = scan_head(in.buffered(), state().options().limits);
        if (scan.state == HeadScan::complete) {
            auto parsed = parse_head(in.buffered().substr(0, scan.size));
            in.consume(scan.size);
            if (auto* request = std::get_if<RequestHead>(&parsed)) return std::move(*request);
            return std::get<BadRequest>(std::move(parsed));
        }
        if (scan.state != HeadScan::incomplete) return refusal(scan.state, in.buffered());
        // Part of a head is here: the time for the rest starts now. (Not before the first bytes:
        // the idle time-out waits for those. And a head that comes whole in its first bytes,
        // nearly every request, never reads the clock.)
        if (!deadline && !in.buffered().empty())
            deadline = std::chrono::steady_clock::now() + state().options().header_timeout;

        std::size_t received = 0;
        try {
            received = deadline ? in.fill_before(*deadline) : in.fill();
        } catch (const sockserv::TimeoutError&) {
            if (in.buffered().empty()) return Closed{};  // an idle keep-alive or preconnect: just close
            return BadRequest{408, "Request Timeout", std::string(first_line(in.buffered()))};
        }
        if (received == 0) return Closed{};  // the peer closed (a half-sent head is not worth an answer)
    }
}

bool HttpHandler::skip_body(const RequestHead& request) {
    std::uint64_t left = request.content_length.value_or(0);
    if (left == 0) return true;
    const auto deadline = std::chrono::steady_clock::now() + state().options().header_timeout;
    try {
        while (left > 0) {
            if (rfile().buffered().empty() && rfile().fill_before(deadline) == 0) return false;
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, rfile().buffered().size()));
            rfile().consume(n);
            left -= n;
        }
    } catch (const sockserv::TimeoutError&) {
        return false;
    }
    return true;
}

bool HttpHandler::send_and_log(std::string_view request_line, Response& response, bool head_only) {
    const std::uint64_t before = wfile().bytes_sent();
    std::size_t head_bytes = 0;
    bool whole;
    try {
        whole = send(response, head_only, head_bytes);
    } catch (...) {
        const std::uint64_t sent = wfile().bytes_sent() - before;
        log(request_line, response, static_cast<long long>(sent > head_bytes ? sent - head_bytes : 0));
        throw;
    }
    const bool bodiless = head_only || response.status() == 304;
    log(request_line, response, bodiless ? -1 : static_cast<long long>(response.body_size()));
    return whole;
}

bool HttpHandler::send(Response& response, bool head_only, std::size_t& head_bytes) {
    const std::string head = serialize_head(response);
    head_bytes = head.size();
    wfile().write(head);
    if (head_only || response.status() == 304) return true;
    if (!response.file) {
        wfile().write(response.body);
        return true;
    }
    // A small file's bytes join the head in the writer's buffer: head and body in one send. A
    // file that shrank since fstat leaves the response short of its Content-Length: the client
    // can only tell if the connection closes.
    const auto send_range = [&](std::uint64_t offset, std::uint64_t length) {
        const auto& file = *response.file;
        if (!file.has_contents) return wfile().sendfile(file.fd.get(), offset, length) == length;
        wfile().write(std::string_view(file.contents).substr(offset, length));
        return true;
    };
    if (response.parts.empty()) return send_range(response.offset, response.length);
    for (const Response::FilePart& part : response.parts) {
        wfile().write(part.head);
        if (!send_range(part.offset, part.length)) return false;
    }
    wfile().write(response.closing);
    return true;
}

void HttpHandler::log(std::string_view request_line, const Response& response, long long body_bytes) {
    state().options().metrics.count(response.status(), body_bytes);
    const std::time_t now = std::time(nullptr);
    // Formatted once per connection (inet_ntop's sprintf was a share of every keep-alive request).
    if (client_.empty()) client_ = client_host(client_address());
    const std::string access = access_line(client_, now, request_line, response.status(), body_bytes);
    if (response.error_message.empty()) return sockserv::log_gathered(access);
    // The error line and the access line in one write.
    sockserv::log_gathered(error_line(client_, now, response.status(), response.error_message), access);
}

}  // namespace http_app
