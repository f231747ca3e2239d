#pragma once
// A response as the site decides it: status and header fields (a Beast header), and a body that is
// either a page in memory or a range of a file: a small file's bytes held by the open-file cache
// (sent with the head, in one send), or an open file (sent with sendfile).

#include <sockserv/io/open_file_cache.hpp>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace http_app {

struct Response {
    boost::beast::http::response<boost::beast::http::empty_body> head;
    /// A page the server wrote (listing, error), or...
    std::string body;
    /// ...a file's bytes [offset, offset + length) (its contents when it has them, else its fd)...
    std::shared_ptr<const sockserv::OpenFileCache::File> file;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    /// ...or, for multipart/byteranges, parts of it, each after its own part head, then `closing`.
    struct FilePart {
        std::string head;  // the boundary and the part's fields
        std::uint64_t offset;
        std::uint64_t length;
    };
    std::vector<FilePart> parts;
    std::string closing;
    /// For Python's error log line ("code 404, message File not found"); empty on success.
    std::string error_message;

    unsigned status() const noexcept { return head.result_int(); }
    /// Body bytes a GET gets (Content-Length).
    std::uint64_t body_size() const noexcept {
        if (!file) return body.size();
        if (parts.empty()) return length;
        std::uint64_t size = closing.size();
        for (const FilePart& part : parts) size += part.head.size() + part.length;
        return size;
    }
};

/// status, Server, Date; more fields are the caller's.
Response make_response(unsigned status);
/// Python's send_error: the HTML error page, text/html; charset=utf-8.
Response error_response(unsigned status, std::string_view message);

/// The status line and fields, serialized by Beast, ready to send.
std::string serialize_head(Response& response);

}  // namespace http_app
