#include "url.hpp"

#include <vector>

namespace http_app {

namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_unreserved(unsigned char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-' || c == '~';
}

}  // namespace

std::string percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

std::string percent_encode(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (is_unreserved(byte) || c == '/') out.push_back(c);
        else out.append(1, '%').append(1, hex[byte >> 4]).append(1, hex[byte & 0xF]);
    }
    return out;
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&': out.append("&amp;"); break;
        case '<': out.append("&lt;"); break;
        case '>': out.append("&gt;"); break;
        case '"': out.append("&quot;"); break;
        case '\'': out.append("&#x27;"); break;
        default: out.push_back(c);
        }
    }
    return out;
}

std::optional<Target> split_target(std::string_view target) {
    for (const std::string_view scheme : {"http://", "https://"}) {
        if (target.size() >= scheme.size() && std::equal(scheme.begin(), scheme.end(), target.begin(), [](char a, char b) {
                return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
            })) {
            const auto path_start = target.find_first_of("/?#", scheme.size());
            target = path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
            if (target.front() != '/') return Target{"/", {}, false};  // "http://host?x": path "/"
            break;
        }
    }
    if (target.empty() || target.front() != '/') return std::nullopt;
    if (const auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
    Target out;
    if (const auto question = target.find('?'); question != std::string_view::npos) {
        out.query = target.substr(question + 1);
        out.has_query = true;
        target = target.substr(0, question);
    }
    while (target.size() > 1 && target[1] == '/') target.remove_prefix(1);
    out.path = target;
    return out;
}

std::optional<LocalPath> translate_path(std::string_view url_path) {
    LocalPath out;
    out.trailing_slash = !url_path.empty() && url_path.back() == '/';
    const std::string decoded = percent_decode(url_path);
    if (decoded.find('\0') != std::string::npos) return std::nullopt;
    std::vector<std::string_view> components;
    std::string_view rest = decoded;
    while (!rest.empty()) {
        const auto slash = rest.find('/');
        const std::string_view word = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (word.empty() || word == ".") continue;
        if (word == "..") {
            if (!components.empty()) components.pop_back();  // never above the root
            continue;
        }
        components.push_back(word);
    }
    for (const std::string_view word : components) {
        if (!out.relative.empty()) out.relative.push_back('/');
        out.relative.append(word);
    }
    return out;
}

}  // namespace http_app
