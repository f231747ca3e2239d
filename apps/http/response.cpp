#include "response.hpp"
#include "pages.hpp"
#include "validators.hpp"

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/serializer.hpp>

namespace http_app {

namespace http = boost::beast::http;

Response make_response(unsigned status) {
    Response response;
    response.head.result(status);
    response.head.set(http::field::server, "sockserv-http/0.1");
    response.head.set(http::field::date, current_http_date());
    return response;
}

Response error_response(unsigned status, std::string_view message) {
    Response response = make_response(status);
    response.error_message = std::string(message);
    response.body = error_page(status, message);
    response.head.set(http::field::content_type, "text/html; charset=utf-8");
    response.head.set(http::field::content_length, std::to_string(response.body.size()));
    return response;
}

std::string serialize_head(Response& response) {
    std::string out;
    out.reserve(256);
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

}  // namespace http_app
