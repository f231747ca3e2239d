// ResponseHead and serialize_head: the response head kept and written by hand, byte for byte what
// Beast's header and serializer write for the same calls (the reference), for every kind of
// response the site makes.

#include "response.hpp"

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/serializer.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace http_app;
namespace http = boost::beast::http;

namespace {

using BeastHead = http::response<http::empty_body>;

boost::beast::string_view beast_view(std::string_view text) { return {text.data(), text.size()}; }

std::string beast_bytes(BeastHead& head) {
    std::string out;
    http::response_serializer<http::empty_body> serializer(head);
    serializer.split(true);
    boost::beast::error_code error;
    while (!error && !serializer.is_header_done()) {
        serializer.next(error, [&](boost::beast::error_code&, const auto& buffers) {
            for (const auto buffer : boost::beast::buffers_range_ref(buffers))
                out.append(static_cast<const char*>(buffer.data()), buffer.size());
            serializer.consume(boost::beast::buffer_bytes(buffers));
        });
    }
    return out;
}

// One step of building a head, done to both: a field set, the version, keep-alive or a reason.
struct Step {
    enum Kind { set, version, keep_alive, reason } kind;
    std::string name, value;
    unsigned number = 0;
};

// The same steps on ResponseHead (after `response` was made by the site's own functions) and on a
// Beast header given the same start.
void check_same(Response response, const std::vector<Step>& steps) {
    BeastHead beast;
    beast.result(response.status());
    // The fields the response started with, in their order.
    for (std::string_view fields = response.head.fields(); !fields.empty();) {
        const std::size_t end = fields.find("\r\n");
        const std::string_view line = fields.substr(0, end);
        const std::size_t colon = line.find(':');
        beast.insert(beast_view(line.substr(0, colon)), beast_view(line.substr(colon + 2)));
        fields.remove_prefix(end + 2);
    }
    for (const Step& step : steps) {
        switch (step.kind) {
        case Step::set:
            response.head.set(step.name, step.value);
            beast.set(beast_view(step.name), beast_view(step.value));
            break;
        case Step::version:
            response.head.version(step.number);
            beast.version(step.number);
            break;
        case Step::keep_alive:
            response.head.keep_alive(step.number != 0);
            beast.keep_alive(step.number != 0);
            break;
        case Step::reason:
            response.head.reason(step.value);
            beast.reason(beast_view(step.value));
            break;
        }
    }
    CHECK(serialize_head(response) == beast_bytes(beast));
}

}  // namespace

TEST_CASE("serialize_head writes what Beast's header and serializer write", "[http]") {
    for (const unsigned status : {200u, 206u, 301u, 304u, 400u, 404u, 416u, 431u, 501u, 599u}) {
        for (const unsigned version : {10u, 11u}) {
            for (const bool keep_alive : {true, false}) {
                INFO(status << " HTTP/" << version << " keep-alive " << keep_alive);
                const auto made = [&] { return status >= 400 ? error_response(status, "why") : make_response(status); };
                // As the server sends: the site's fields, then the version and keep-alive.
                check_same(made(), {{Step::set, "Content-Type", "text/plain; charset=utf-8"},
                                    {Step::set, "ETag", "W/\"1a-2b.3c\""},
                                    {Step::set, "X-Custom", "a value, with: colons"},
                                    {Step::version, "", "", version},
                                    {Step::keep_alive, "", "", keep_alive}});
                // Fields after keep-alive, keep-alive twice, a field replaced in another case.
                check_same(made(), {{Step::version, "", "", version},
                                    {Step::keep_alive, "", "", keep_alive},
                                    {Step::set, "Content-Type", "text/plain"},
                                    {Step::keep_alive, "", "", !keep_alive},
                                    {Step::set, "content-type", "text/html"},
                                    {Step::keep_alive, "", "", keep_alive}});
            }
        }
    }
    check_same(make_response(200), {{Step::reason, "", "Fine Thanks", 0}});
    Response odd = make_response(200);
    odd.head.reason("Fine Thanks");
    CHECK(serialize_head(odd).starts_with("HTTP/1.1 200 Fine Thanks\r\nServer: sockserv-http/0.1\r\nDate: "));
}

TEST_CASE("ResponseHead finds, replaces and erases fields by name in any case", "[http]") {
    ResponseHead head;
    head.set("Content-Length", "10");
    head.set("Content-Type", "text/plain");
    head.set("Content", "not a prefix match");
    CHECK(head.find("content-length") == std::optional<std::string_view>("10"));
    CHECK(head.find("CONTENT-TYPE") == std::optional<std::string_view>("text/plain"));
    CHECK(head.find("Content") == std::optional<std::string_view>("not a prefix match"));
    CHECK_FALSE(head.find("Content-Len"));
    CHECK_FALSE(head.find("ETag"));
    head.set("content-length", "20");
    CHECK(head.fields() == "Content-Type: text/plain\r\nContent: not a prefix match\r\ncontent-length: 20\r\n");
    head.erase("CONTENT");
    head.erase("X-Absent");
    CHECK(head.fields() == "Content-Type: text/plain\r\ncontent-length: 20\r\n");
    head.erase("Content-Type");
    head.erase("Content-Length");
    CHECK(head.fields().empty());
    CHECK(head.reason() == "OK");
    head.result(404);
    CHECK(head.reason() == "Not Found");
}
