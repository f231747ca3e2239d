#pragma once
// Content types by file extension: an embedded table first (so a server answers the same on every
// machine), the system's /etc/mime.types as the fallback, application/octet-stream otherwise.

#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

namespace http_app {

class MimeTypes {
public:
    /// Reads the fallback table now (once: handlers only read it, from any thread). A missing or
    /// unreadable file leaves just the embedded table.
    explicit MimeTypes(const std::filesystem::path& system_table = "/etc/mime.types");

    /// The type for a file name, by its last extension, case-insensitively (".tar.gz" is
    /// application/gzip, as in Python's http.server). Text types carry "; charset=utf-8". Valid
    /// as long as this table.
    std::string_view content_type(std::string_view file_name) const;
    /// The bare type, without charset.
    std::string_view type_of(std::string_view file_name) const;

private:
    // The file name's extension, lower case; empty when it has none.
    static std::string extension_of(std::string_view file_name);

    std::unordered_map<std::string, std::string> system_;
    // Every extension's Content-Type value, charset included, built once: a file request asks for
    // it, and building it per request was a search, a copy and an allocation each time.
    std::unordered_map<std::string, std::string> content_types_;
};

/// text/*, and the application types that are text (JavaScript, JSON, XML, SVG, ...).
bool is_text_type(std::string_view type) noexcept;

}  // namespace http_app
