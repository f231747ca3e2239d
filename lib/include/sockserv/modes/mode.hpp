#pragma once
// Mode: how a server runs its requests, chosen at run time (--mode). The modes themselves — the
// policy each name stands for, its help line — are one table, in modes.hpp.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sockserv {

/// In the order of modes.hpp's table.
enum class Mode : std::uint8_t { sync, thread, fork, event };

struct ModeInfo {
    Mode mode;
    std::string_view name;
    std::string_view help;
    /// Serves several requests at once (so a connection may be kept open between requests).
    bool concurrent;
};

/// Every mode, in the table's order.
std::span<const ModeInfo> modes() noexcept;
const ModeInfo& mode_info(Mode mode) noexcept;
std::string_view to_string(Mode mode) noexcept;
/// A mode's name; nullopt for anything else.
std::optional<Mode> parse_mode(std::string_view text) noexcept;
/// "sync, thread, fork or event".
std::string_view mode_names() noexcept;

}  // namespace sockserv
