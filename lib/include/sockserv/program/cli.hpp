#pragma once
// The command line every sockserv program shares:
//   --host --port --unix --mode --workers --graceful-timeout --max-requests --dual-stack --verbose
//   --proxy-protocol --proxy-from --help --version, the TLS options --tls-cert --tls-key
//   --tls-password-file --tls-client-ca --tls-handshake-timeout (programs that serve streams), and each mode's own options, from the table of modes (modes.hpp: thread
//   mode's --max-threads, fork mode's --max-children, event mode's --loops --fiber-stack
//   --max-connections, ...)
// plus whatever options the app adds. A bad value is one line on stderr and exit status 2.
//
// Parsing is Boost.Program_options, compiled once into the library: this header names no Boost
// type, so a program that includes it (or sockserv.hpp) does not parse Program_options' ~150k
// lines. An app's options are declared through Spec and read back through Values.
//
//   sockserv::cli::Spec spec;
//   spec.option<std::string>("directory,d", ".", "directory to serve").flag("follow-symlinks", "...");
//   auto options = sockserv::cli::parse(argc, argv, "http_server", std::move(spec));
//   std::string directory = options.values.get<std::string>("directory");

#include <sockserv/base/address.hpp>
#include <sockserv/modes/mode.hpp>
#include <sockserv/program/observability.hpp>
#include <sockserv/program/passed_sockets.hpp>
#include <sockserv/server/server_config.hpp>
#include <sockserv/process/worker_pool.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace sockserv {

class BaseServer;

namespace cli {

/// The types an app's option may have.
template <class T>
concept OptionValue = std::same_as<T, std::string> || std::same_as<T, double> || std::same_as<T, int> ||
                      std::same_as<T, unsigned> || std::same_as<T, unsigned long> || std::same_as<T, long>;

struct Options;

/// What an app adds to the shared command line.
class Spec {
public:
    /// One line under the usage line of --help.
    std::string summary;
    std::string default_host = "127.0.0.1";
    std::uint16_t default_port = 0;
    Mode default_mode = Mode::thread;
    /// Why default_mode, for --help ("measured fastest here, and holds thousands of connections").
    std::string default_mode_reason;
    /// The defaults of the modes' own options (--loops, --max-threads, ...), for a program whose
    /// measurements call for others than the library's. Only those options' fields are read.
    ServerConfig mode_defaults;
    /// The program serves streams: it offers the TLS options (--tls-cert, ...). A datagram-only
    /// program (chat) sets false.
    bool streams = true;
    /// With --tls-cert: the ALPN protocols the server speaks ({"http/1.1"}).
    std::vector<std::string> tls_alpn;

    Spec();
    ~Spec();
    Spec(Spec&&) noexcept;
    Spec& operator=(Spec&&) noexcept;

    /// An option without a value: --name (Values::has tells whether it was given).
    /// `name` may carry a short form after a comma: "verbose,v".
    Spec& flag(const std::string& name, const std::string& help);
    /// An option with a value of type T, absent unless given.
    template <OptionValue T>
    Spec& option(const std::string& name, const std::string& help);
    /// An option with a value of type T and a default.
    template <OptionValue T>
    Spec& option(const std::string& name, std::type_identity_t<T> fallback, const std::string& help);
    /// The next `count` positional arguments are this option's value (-1: all the rest):
    /// positional("port") makes `http_server 8080` mean --port 8080.
    Spec& positional(const std::string& name, int count = 1);

    struct Declared;  // the library's record of the calls above

private:
    friend Options parse(int argc, const char* const* argv, std::string_view program, Spec spec);
    std::unique_ptr<Declared> declared_;
};

#define SOCKSERV_CLI_OPTION_TYPES(X) X(std::string) X(double) X(int) X(unsigned) X(unsigned long) X(long)

/// Every option's value after parse(), the shared ones and the app's: by long name.
class Values {
public:
    /// Given on the command line, or has a default.
    bool has(std::string_view name) const;
    /// Not given on the command line (its default is in effect, or it has none).
    bool defaulted(std::string_view name) const;
    /// The value; throws std::invalid_argument if absent or of another type.
    template <OptionValue T>
    T get(std::string_view name) const;

    struct Parsed;  // the library's record of what was parsed
    explicit Values(std::shared_ptr<const Parsed> parsed = {}) : parsed_(std::move(parsed)) {}

private:
    std::shared_ptr<const Parsed> parsed_;
};

// Compiled once, in the library, for each OptionValue type.
#define SOCKSERV_CLI_EXTERN(T)                                                                         \
    extern template T Values::get<T>(std::string_view) const;                                       \
    extern template Spec& Spec::option<T>(const std::string&, const std::string&);                  \
    extern template Spec& Spec::option<T>(const std::string&, std::type_identity_t<T>, const std::string&);
SOCKSERV_CLI_OPTION_TYPES(SOCKSERV_CLI_EXTERN)
#undef SOCKSERV_CLI_EXTERN

struct Options {
    std::string program;
    std::string host;
    std::uint16_t port = 0;
    /// --unix PATH: serve on a Unix socket (for the Unix transports).
    std::string unix_path;
    Mode mode = Mode::thread;
    /// Every mode's own settings (ServerConfig::thread, ::fork, ::event), from its options; and
    /// what the app sets for its connections: event.start_on_first_bytes and first_bytes_timeout,
    /// tcp_nodelay, send_buffer_size.
    ServerConfig mode_settings;
    /// --workers: processes under a master (1: this process serves, no master); how long a stopping
    /// worker may finish its requests; requests before a worker is replaced (0: never).
    std::size_t workers = 1;
    std::chrono::milliseconds graceful_timeout = PoolConfig{}.graceful_timeout;
    std::uint64_t max_requests = 0;
    bool dual_stack = false;
    /// --defer-accept: ServerConfig::defer_accept.
    bool defer_accept = false;
    bool verbose = false;
    /// --proxy-protocol, --proxy-from: read a PROXY header at the start of every connection of a
    /// stream server, from these networks only.
    ProxyProtocolConfig proxy_protocol;
    /// --tls-cert, --tls-key, --tls-password-file, --tls-client-ca, --tls-handshake-timeout: the
    /// context, loaded and checked by parse() (a bad file exits 2 at start, never at the first
    /// client). Empty: plain. A --workers master reloads it on SIGHUP.
    std::shared_ptr<const tls::ServerContext> tls;
    /// --metrics ADDRESS: the program's numbers (made here, before anything forks) and where the
    /// listener that shows them serves (observability.hpp). Empty: no metrics, nothing counted.
    std::shared_ptr<Observability> observability;
    /// Set by the app, not the command line: ServerConfig::stop_timeout (how long requests in
    /// progress may run on after a stop before their connections are cut off).
    std::optional<std::chrono::milliseconds> stop_timeout;
    /// Listening sockets passed by systemd (socket activation, passed_sockets.hpp): when there are
    /// any, serve<> serves them instead of binding --host/--port/--unix.
    std::vector<PassedSocket> passed_sockets;
    /// Every option, the app's own included: values.get<std::string>("directory").
    Values values;
    /// Called once the server is bound, before serving; default: a line on stderr naming the
    /// address and mode. Apps set it after parse() to print their own banner.
    std::function<void(const BaseServer&, const Options&)> on_ready;

    /// An app's option<double> in seconds, as milliseconds (rounded up). Outside [min, max]:
    /// usage_error "--NAME must be between MIN and MAX seconds".
    std::chrono::milliseconds seconds(std::string_view name, double min, double max) const;
    /// Whether to serve on a Unix socket: --unix PATH was given, or systemd passed a Unix socket.
    bool unix_socket() const;
    /// The address to serve on: unix_path when want_unix, else host and port.
    Address address(bool want_unix) const;
    /// ServerConfig with each mode's settings from the command line (and the app's connection
    /// settings in mode_settings), dual_stack, verbose,
    /// stop_timeout, the PROXY protocol, TLS and the metrics.
    ServerConfig server_config() const;
    /// Where an app declares its own metrics (metrics::counter(options.metrics_registry(), ...)):
    /// null without --metrics, and handles declared on null count nothing.
    metrics::Registry* metrics_registry() const;
    /// The pool's settings from --workers, --graceful-timeout, --max-requests, --mode, --verbose.
    PoolConfig pool_config() const;
};

/// Parses argv, and takes the sockets systemd passed (LISTEN_FDS). --help and --version print and
/// exit 0; a bad option or value prints "PROGRAM: error: ..." and a hint to --help on stderr and
/// exits 2.
Options parse(int argc, const char* const* argv, std::string_view program, Spec spec = {});

/// For an app's own checks of its options: "PROGRAM: error: MESSAGE (try --help)" on stderr, exit 2.
[[noreturn]] void usage_error(std::string_view program, std::string_view message);

}  // namespace cli
}  // namespace sockserv
