#pragma once
// A response as the site decides it: status and header fields (a ResponseHead), and a body that is
// either a page in memory or a range of a file: a small file's bytes held by the open-file cache
// (sent with the head, in one send), or an open file (sent with sendfile).

#include <sockserv/io/open_file_cache.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace http_app {

/// A response's status line and header fields, the fields kept as the bytes they are sent as.
/// Beast's header semantics (set replaces every field of the name and appends; keep_alive writes
/// Connection as Beast does; the standard reason phrase unless one is set), and the same bytes
/// (tests hold the two equal), without Beast's container: one string a response, where
/// basic_fields took an allocation a field (4% of a keep-alive request's CPU, with its set).
class ResponseHead {
public:
    void result(unsigned status) noexcept { status_ = status; }
    unsigned result_int() const noexcept { return status_; }
    /// The reason phrase: the standard one for the status unless one was set.
    std::string_view reason() const noexcept;
    void reason(std::string_view text) { reason_.assign(text); }
    /// 10 * major + minor.
    unsigned version() const noexcept { return version_; }
    void version(unsigned version) noexcept { version_ = version; }
    /// HTTP/1.1: false sets Connection: close, true removes it. HTTP/1.0: true sets
    /// Connection: keep-alive, false removes it. (Set the version first.)
    void keep_alive(bool keep);
    /// Replaces every field named `name` (any case) with this one, at the end. The value is the
    /// server's own: no CR or LF.
    void set(std::string_view name, std::string_view value);
    void erase(std::string_view name);
    /// The first field named `name` (any case).
    std::optional<std::string_view> find(std::string_view name) const;
    /// Every field, as sent: "Name: value\r\n" each.
    std::string_view fields() const noexcept { return fields_; }

private:
    // A bit per (first letter, last letter, length) of every name ever set: a set of a name whose
    // bit is clear (nearly every set: a response's fields are new) appends without scanning.
    static std::uint64_t name_bit(std::string_view name) noexcept;
    bool may_have(std::string_view name) const noexcept { return (names_ & name_bit(name)) != 0; }
    void erase_lines(std::string_view name);

    unsigned status_ = 200;
    unsigned version_ = 11;
    std::string reason_;
    std::string fields_;
    std::uint64_t names_ = 0;
};

struct Response {
    ResponseHead head;
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

/// The status line and fields, ready to send.
std::string serialize_head(Response& response);

}  // namespace http_app
