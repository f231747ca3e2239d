// serialize_head: the response head written by hand, byte for byte what Beast's own serializer
// writes for the same header (the reference), for every kind of response the site makes.

#include "response.hpp"

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/serializer.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace http_app;
namespace http = boost::beast::http;

namespace {

std::string beast_head(Response& response) {
    std::string out;
    http::response_serializer<http::empty_body> serializer(response.head);
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

}  // namespace

TEST_CASE("serialize_head writes what Beast's serializer writes", "[http]") {
    for (const unsigned status : {200u, 206u, 301u, 304u, 400u, 404u, 416u, 431u, 501u, 599u}) {
        for (const unsigned version : {10u, 11u}) {
            for (const bool keep_alive : {true, false}) {
                Response response = status >= 400 ? error_response(status, "why") : make_response(status);
                response.head.version(version);
                response.head.keep_alive(keep_alive);
                response.head.set(http::field::content_type, "text/plain; charset=utf-8");
                response.head.set(http::field::etag, "W/\"1a-2b.3c\"");
                response.head.set("X-Custom", "a value, with: colons");
                INFO(status << " HTTP/" << version << " keep-alive " << keep_alive);
                CHECK(serialize_head(response) == beast_head(response));
            }
        }
    }
    Response odd = make_response(200);
    odd.head.reason("Fine Thanks");
    CHECK(serialize_head(odd) == beast_head(odd));
    CHECK(serialize_head(odd).starts_with("HTTP/1.1 200 Fine Thanks\r\nServer: sockserv-http/0.1\r\nDate: "));
}
