#pragma once
// The command line every sockserv program shares, on Boost.Program_options:
//   --host --port --unix --mode --max-children --max-threads --threads --fiber-stack
//   --max-connections --workers --graceful-timeout --max-requests --dual-stack --verbose --help --version
// plus whatever options the app adds. A bad value is one line on stderr and exit status 2.

#include <sockserv/address.hpp>
#include <sockserv/mode.hpp>
#include <sockserv/server_config.hpp>
#include <sockserv/worker_pool.hpp>

#include <boost/program_options.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sockserv {

class BaseServer;

namespace cli {

/// What an app adds to the shared command line.
struct Spec {
    /// One line under the usage line of --help.
    std::string summary;
    std::string default_host = "127.0.0.1";
    std::uint16_t default_port = 0;
    Mode default_mode = Mode::thread;
    /// The app's own options.
    boost::program_options::options_description options{"Application options"};
    /// Positional arguments, by option name (e.g. positional.add("port", 1) for `http_server 8080`).
    boost::program_options::positional_options_description positional;
};

struct Options {
    std::string program;
    std::string host;
    std::uint16_t port = 0;
    /// --unix PATH: serve on a Unix socket (for the Unix transports).
    std::string unix_path;
    Mode mode = Mode::thread;
    std::size_t max_children = ServerConfig{}.max_children;
    std::size_t max_threads = ServerConfig{}.max_threads;
    /// Event mode: loops (0: one per CPU), each fiber's stack, requests at once (0: from the fd limit).
    std::size_t event_loops = 0;
    std::size_t fiber_stack_size = ServerConfig{}.fiber_stack_size;
    std::size_t max_connections = 0;
    /// --workers: processes under a master (1: this process serves, no master); how long a stopping
    /// worker may finish its requests; requests before a worker is replaced (0: never).
    std::size_t workers = 1;
    std::chrono::milliseconds graceful_timeout = PoolConfig{}.graceful_timeout;
    std::uint64_t max_requests = 0;
    bool dual_stack = false;
    bool verbose = false;
    /// Every option, the app's own included: values["directory"].as<std::string>().
    boost::program_options::variables_map values;
    /// Called once the server is bound, before serving; default: a line on stderr naming the
    /// address and mode. Apps set it after parse() to print their own banner.
    std::function<void(const BaseServer&, const Options&)> on_ready;

    /// The address to serve on: unix_path when want_unix, else host and port.
    Address address(bool want_unix) const;
    /// ServerConfig with the command line's limits (max_children, max_threads, event_loops,
    /// fiber_stack_size, max_connections), dual_stack and verbose.
    ServerConfig server_config() const;
    /// The pool's settings from --workers, --graceful-timeout, --max-requests, --mode, --verbose.
    PoolConfig pool_config() const;
};

/// Parses argv. --help and --version print and exit 0; a bad option or value prints
/// "PROGRAM: error: ..." and a hint to --help on stderr and exits 2.
Options parse(int argc, const char* const* argv, std::string_view program, Spec spec = {});

}  // namespace cli
}  // namespace sockserv
