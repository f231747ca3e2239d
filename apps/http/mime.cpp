#include "mime.hpp"

#include <sockserv/base/text.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <utility>

namespace http_app {

namespace {

// The types a static site is made of. Sorted by extension for binary search.
constexpr std::array<std::pair<std::string_view, std::string_view>, 70> embedded{{
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"avif", "image/avif"},
    {"bin", "application/octet-stream"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"c", "text/plain"},
    {"cc", "text/plain"},
    {"conf", "text/plain"},
    {"cpp", "text/plain"},
    {"css", "text/css"},
    {"csv", "text/csv"},
    {"deb", "application/vnd.debian.binary-package"},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"h", "text/plain"},
    {"hpp", "text/plain"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"ico", "image/vnd.microsoft.icon"},
    {"ics", "text/calendar"},
    {"ini", "text/plain"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"log", "text/plain"},
    {"m4a", "audio/mp4"},
    {"manifest", "application/manifest+json"},
    {"map", "application/json"},
    {"md", "text/markdown"},
    {"mjs", "text/javascript"},
    {"mkv", "video/x-matroska"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"py", "text/x-python"},
    {"rs", "text/plain"},
    {"rss", "application/rss+xml"},
    {"sh", "text/x-sh"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tgz", "application/gzip"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"toml", "text/plain"},
    {"ts", "video/mp2t"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xml", "application/xml"},
    {"xz", "application/x-xz"},
    {"yaml", "application/yaml"},
    {"zip", "application/zip"},
}};

}  // namespace

MimeTypes::MimeTypes(const std::filesystem::path& system_table) {
    std::ifstream in(system_table);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line.front() == '#') continue;
        std::istringstream words(line);
        std::string type, extension;
        if (!(words >> type) || type.find('/') == std::string::npos) continue;
        while (words >> extension) system_.emplace(sockserv::ascii_lower(extension), type);  // the first one wins
    }
    const auto add = [this](std::string_view extension, std::string_view type) {
        std::string value(type);
        if (is_text_type(type)) value.append("; charset=utf-8");
        content_types_.emplace(std::string(extension), std::move(value));  // the embedded one wins
    };
    for (const auto& [extension, type] : embedded) add(extension, type);
    for (const auto& [extension, type] : system_) add(extension, type);
}

std::string MimeTypes::extension_of(std::string_view file_name) {
    if (const auto slash = file_name.rfind('/'); slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
    const auto dot = file_name.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == file_name.size()) return {};  // ".bashrc"
    return sockserv::ascii_lower(file_name.substr(dot + 1));
}

std::string_view MimeTypes::type_of(std::string_view file_name) const {
    constexpr std::string_view fallback = "application/octet-stream";
    const std::string extension = extension_of(file_name);
    if (extension.empty()) return fallback;
    const auto found = std::lower_bound(embedded.begin(), embedded.end(), extension,
                                        [](const auto& entry, const std::string& key) { return entry.first < key; });
    if (found != embedded.end() && found->first == extension) return found->second;
    if (const auto system = system_.find(extension); system != system_.end()) return system->second;
    return fallback;
}

std::string_view MimeTypes::content_type(std::string_view file_name) const {
    const std::string extension = extension_of(file_name);
    if (const auto found = content_types_.find(extension); !extension.empty() && found != content_types_.end())
        return found->second;
    return "application/octet-stream";
}

bool is_text_type(std::string_view type) noexcept {
    if (type.starts_with("text/")) return true;
    for (const std::string_view text : {"application/json", "application/ld+json", "application/manifest+json",
                                        "application/xml", "application/rss+xml", "application/yaml",
                                        "image/svg+xml", "application/javascript"})
        if (type == text) return true;
    return false;
}

}  // namespace http_app
