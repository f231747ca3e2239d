#pragma once
// Mode: how a server runs its requests, chosen at run time (--mode). The modes themselves — the
// policy each name stands for, its help line, its own command-line options — are one table, in
// modes.hpp. The command line (cli.hpp) declares and applies every mode's options from it, naming
// none.

#include <sockserv/server/server_config.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sockserv {

/// In the order of modes.hpp's table.
enum class Mode : std::uint8_t { sync, thread, fork, event };

/// One command-line option of a mode: a whole number that sets a field of the mode's own part of
/// ServerConfig (ServerConfig::thread, ::fork, ::event).
struct ModeOption {
    /// Without the dashes: "max-threads".
    std::string_view name;
    /// Shown after "MODE mode: " in --help.
    std::string_view help;
    std::uint64_t min;
    std::uint64_t max;
    /// A size in bytes: K and M suffixes are accepted, and the default is shown with one.
    bool bytes;
    /// The field: its default is read from a default-made ServerConfig.
    std::uint64_t (*get)(const ServerConfig& config);
    void (*set)(ServerConfig& config, std::uint64_t value);
    /// An older spelling, still accepted with a line saying it is deprecated. Empty: none.
    std::string_view deprecated_name = {};
};

struct ModeInfo {
    Mode mode;
    std::string_view name;
    std::string_view help;
    /// Serves several requests at once (so a connection may be kept open between requests).
    bool concurrent;
    /// The mode's own command-line options.
    std::span<const ModeOption> options = {};
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
