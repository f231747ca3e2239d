#include <sockserv/modes/modes.hpp>

#include <array>
#include <string>

namespace sockserv {

namespace {

constexpr std::size_t mode_count = std::tuple_size_v<std::remove_cvref_t<decltype(mode_table)>>;

constexpr std::array<ModeInfo, mode_count> infos = std::apply(
    [](const auto&... entry) { return std::array<ModeInfo, mode_count>{static_cast<const ModeInfo&>(entry)...}; },
    mode_table);

constexpr bool in_enum_order() {
    for (std::size_t i = 0; i < infos.size(); ++i)
        if (static_cast<std::size_t>(infos[i].mode) != i) return false;
    return true;
}
static_assert(in_enum_order(), "sockserv: modes.hpp's table must list the modes in Mode's order");

}  // namespace

std::span<const ModeInfo> modes() noexcept { return infos; }

const ModeInfo& mode_info(Mode mode) noexcept { return infos[static_cast<std::size_t>(mode)]; }

std::string_view to_string(Mode mode) noexcept {
    const auto index = static_cast<std::size_t>(mode);
    return index < infos.size() ? infos[index].name : "?";
}

std::optional<Mode> parse_mode(std::string_view text) noexcept {
    for (const ModeInfo& info : infos)
        if (text == info.name) return info.mode;
    return std::nullopt;
}

std::string_view mode_names() noexcept {
    static const std::string names = [] {
        std::string out;
        for (std::size_t i = 0; i < infos.size(); ++i) {
            if (i > 0) out += i + 1 == infos.size() ? " or " : ", ";
            out += infos[i].name;
        }
        return out;
    }();
    return names;
}

}  // namespace sockserv
