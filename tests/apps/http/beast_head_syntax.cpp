#include "beast_head_syntax.hpp"

#include <boost/beast/http/basic_parser.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

namespace http_app::reference {

namespace {

namespace http = boost::beast::http;

// Beast's parser, minus the header container: its checks, and the fields the server acts on,
// copied out as they come.
class HeadParser final : public http::basic_parser<true> {
public:
    HeadSyntax out;

private:
    using string_view = boost::beast::string_view;
    using error_code = boost::beast::error_code;

    // The first of each, as basic_fields::find gave it.
    static void keep_first(std::string& kept, bool& seen, string_view value) {
        if (seen) return;
        seen = true;
        kept.assign(value.data(), value.size());
    }

    void on_request_impl(http::verb, string_view method, string_view target, int version, error_code&) override {
        out.head.method.assign(method.data(), method.size());
        out.head.target.assign(target.data(), target.size());
        out.head.version = static_cast<unsigned>(version);
    }
    void on_response_impl(int, string_view, int, error_code&) override {}
    void on_field_impl(http::field name, string_view, string_view value, error_code&) override {
        RequestHead& head = out.head;
        switch (name) {
        case http::field::host: ++out.hosts; break;
        case http::field::if_modified_since: keep_first(head.if_modified_since, seen_if_modified_since_, value); break;
        case http::field::if_none_match: keep_first(head.if_none_match, head.has_if_none_match, value); break;
        case http::field::range: keep_first(head.range, seen_range_, value); break;
        case http::field::if_range: keep_first(head.if_range, seen_if_range_, value); break;
        default: break;
        }
    }
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
    std::size_t on_body_impl(string_view body, error_code&) override { return body.size(); }
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override { return body.size(); }
    void on_finish_impl(error_code&) override {}

    bool seen_if_modified_since_ = false, seen_range_ = false, seen_if_range_ = false;
};

}  // namespace

HeadSyntax beast_head_syntax(std::string_view head) {
    HeadParser parser;
    parser.eager(false);
    parser.header_limit(static_cast<std::uint32_t>(head.size() + 1));
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    boost::beast::error_code error;
    parser.put(boost::asio::buffer(head.data(), head.size()), error);
    if (!error && !parser.is_header_done()) error = http::error::partial_message;
    HeadSyntax& out = parser.out;
    if (error == http::error::bad_version) out.error = HeadSyntax::bad_version;
    else if (error == http::error::bad_method) out.error = HeadSyntax::bad_method;
    else if (error == http::error::bad_target) out.error = HeadSyntax::bad_target;
    else if (error == http::error::bad_content_length || error == http::error::bad_transfer_encoding)
        out.error = HeadSyntax::bad_framing;
    else if (error == http::error::bad_field || error == http::error::bad_value || error == http::error::bad_line_ending)
        out.error = HeadSyntax::bad_field;
    else if (error) out.error = HeadSyntax::bad_syntax;
    if (!error) {
        out.head.keep_alive = parser.keep_alive();
        if (const auto length = parser.content_length()) out.head.content_length = *length;
        out.head.chunked = parser.chunked();
    }
    return std::move(out);
}

std::string syntax_difference(const HeadSyntax& ours, const HeadSyntax& beast) {
    if (ours.error != beast.error) return "error";
    if (ours.error != HeadSyntax::none) return "";
    const RequestHead &a = ours.head, &b = beast.head;
    const std::pair<const char*, bool> same[] = {
        {"method", a.method == b.method},
        {"target", a.target == b.target},
        {"version", a.version == b.version},
        {"keep_alive", a.keep_alive == b.keep_alive},
        {"content_length", a.content_length == b.content_length},
        {"chunked", a.chunked == b.chunked},
        {"if_modified_since", a.if_modified_since == b.if_modified_since},
        {"if_none_match", a.if_none_match == b.if_none_match && a.has_if_none_match == b.has_if_none_match},
        {"range", a.range == b.range},
        {"if_range", a.if_range == b.if_range},
        {"hosts", ours.hosts == beast.hosts},
    };
    for (const auto& [field, equal] : same)
        if (!equal) return field;
    return "";
}

}  // namespace http_app::reference
