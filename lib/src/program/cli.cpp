#include <sockserv/program/cli.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/base/version.hpp>

#include <boost/program_options.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>

namespace sockserv {

namespace cli {

namespace po = boost::program_options;

namespace {

constexpr long max_workers = static_cast<long>(PoolConfig::max_workers);

std::uint64_t parse_number(std::string_view program, const std::string& name, const std::string& text,
                           std::uint64_t min, std::uint64_t max) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < min || value > max)
        usage_error(program, "invalid --" + name + " '" + text + "' (expected a whole number from " + std::to_string(min) +
                          " to " + std::to_string(max) + ")");
    return value;
}

// A mode option's value as --help shows it: bytes with a K or M suffix when they divide.
std::string number_text(const ModeOption& option, std::uint64_t value) {
    if (option.bytes && value != 0 && value % (1024 * 1024) == 0) return std::to_string(value >> 20) + "M";
    if (option.bytes && value != 0 && value % 1024 == 0) return std::to_string(value >> 10) + "K";
    return std::to_string(value);
}

// name: as the user spelled it (a deprecated spelling, maybe).
std::uint64_t parse_mode_option(std::string_view program, const ModeOption& option, const std::string& name,
                                const std::string& text) {
    std::string digits = text;
    std::uint64_t unit = 1;
    if (option.bytes && !digits.empty() && (digits.back() == 'K' || digits.back() == 'k')) unit = 1024, digits.pop_back();
    else if (option.bytes && !digits.empty() && (digits.back() == 'M' || digits.back() == 'm')) unit = 1 << 20, digits.pop_back();
    if (!option.bytes) return parse_number(program, name, text, option.min, option.max);
    const std::uint64_t value = parse_number(program, name, digits, 0, option.max);
    if (value * unit < option.min || value * unit > option.max)
        usage_error(program, "invalid --" + name + " '" + text + "' (expected " + number_text(option, option.min) +
                                 " to " + number_text(option, option.max) + ")");
    return value * unit;
}

}  // namespace

struct Values::Parsed {
    po::variables_map map;
};

bool Values::has(std::string_view name) const { return parsed_ && parsed_->map.count(std::string(name)) > 0; }

bool Values::defaulted(std::string_view name) const {
    if (!parsed_) return true;
    const auto found = parsed_->map.find(std::string(name));
    return found == parsed_->map.end() || found->second.defaulted();
}

template <OptionValue T>
T Values::get(std::string_view name) const {
    if (!has(name)) throw std::invalid_argument("option --" + std::string(name) + " has no value");
    try {
        return parsed_->map[std::string(name)].as<T>();
    } catch (const boost::bad_any_cast&) {
        throw std::invalid_argument("option --" + std::string(name) + " is read as another type than it was declared");
    }
}

struct Spec::Declared {
    po::options_description options{"Application options"};
    po::positional_options_description positional;
};

Spec::Spec() : declared_(std::make_unique<Declared>()) {}
Spec::~Spec() = default;
Spec::Spec(Spec&&) noexcept = default;
Spec& Spec::operator=(Spec&&) noexcept = default;

Spec& Spec::flag(const std::string& name, const std::string& help) {
    declared_->options.add_options()(name.c_str(), help.c_str());
    return *this;
}

template <OptionValue T>
Spec& Spec::option(const std::string& name, const std::string& help) {
    declared_->options.add_options()(name.c_str(), po::value<T>(), help.c_str());
    return *this;
}

template <OptionValue T>
Spec& Spec::option(const std::string& name, std::type_identity_t<T> fallback, const std::string& help) {
    declared_->options.add_options()(name.c_str(), po::value<T>()->default_value(fallback), help.c_str());
    return *this;
}

Spec& Spec::positional(const std::string& name, int count) {
    declared_->positional.add(name.substr(0, name.find(',')).c_str(), count);
    return *this;
}

#define SOCKSERV_CLI_INSTANTIATE(T)                                                       \
    template T Values::get<T>(std::string_view) const;                                   \
    template Spec& Spec::option<T>(const std::string&, const std::string&);              \
    template Spec& Spec::option<T>(const std::string&, std::type_identity_t<T>, const std::string&);
SOCKSERV_CLI_OPTION_TYPES(SOCKSERV_CLI_INSTANTIATE)
#undef SOCKSERV_CLI_INSTANTIATE

namespace {
double parse_seconds(std::string_view program, const std::string& name, const std::string& text, double min,
                     double max) {
    double seconds = -1;
    try {
        std::size_t used = 0;
        seconds = std::stod(text, &used);
        if (used != text.size()) seconds = -1;
    } catch (const std::exception&) {
    }
    if (!(seconds >= min) || seconds > max) {
        std::string message = "invalid --";
        message.append(name).append(" '").append(text).append("' (expected ");
        message.append(min == 0 ? "0" : "more than 0").append(" to ").append(std::to_string(static_cast<long>(max)));
        message.append(" seconds)");
        usage_error(program, message);
    }
    return seconds;
}
}  // namespace

void usage_error(std::string_view program, std::string_view message) {
    // One write: a supervisor reading stderr gets the line whole.
    log_error(program, std::string(message) + " (try --help)");
    std::exit(2);
}

std::chrono::milliseconds Options::seconds(std::string_view name, double min, double max) const {
    const double value = values.get<double>(name);
    if (!(value >= min) || value > max) {
        char bounds[64];
        std::snprintf(bounds, sizeof bounds, " must be between %.10g and %.10g seconds", min, max);
        usage_error(program, "--" + std::string(name) + bounds);
    }
    return std::chrono::milliseconds(static_cast<long long>(std::ceil(value * 1000)));
}

bool Options::unix_socket() const {
    if (!unix_path.empty()) return true;
    return std::any_of(passed_sockets.begin(), passed_sockets.end(),
                       [](const PassedSocket& socket) { return socket.family == AF_UNIX; });
}

Address Options::address(bool want_unix) const {
    if (want_unix) {
        if (unix_path.empty()) throw std::invalid_argument("a Unix socket server needs --unix PATH");
        return Address::unix_path(unix_path);
    }
    return Address(host, port);
}

ServerConfig Options::server_config() const {
    ServerConfig config;
    config.thread = mode_settings.thread;
    config.fork = mode_settings.fork;
    config.event = mode_settings.event;
    config.tcp_nodelay = mode_settings.tcp_nodelay;
    config.send_buffer_size = mode_settings.send_buffer_size;
    config.dual_stack = dual_stack;
    config.defer_accept = defer_accept;
    config.proxy_protocol = proxy_protocol;
    config.tls = tls;
    config.verbose = verbose;
    config.stop_timeout = stop_timeout;
    if (observability) config.metrics = &observability->server();
    return config;
}

metrics::Registry* Options::metrics_registry() const { return observability ? &observability->registry() : nullptr; }

PoolConfig Options::pool_config() const {
    PoolConfig config;
    config.program = program;
    config.workers = workers;
    config.mode = std::string(to_string(mode));
    config.graceful_timeout = graceful_timeout;
    config.max_requests = max_requests;
    config.verbose = verbose;
    if (observability) config.metrics = observability->pool();
    return config;
}

Options parse(int argc, const char* const* argv, std::string_view program, Spec spec) {
    Options options;
    options.program = std::string(program);
    std::string port_text;
    std::string mode_text;
    std::string workers_text;
    std::string proxy_from_text;
    std::string graceful_text;
    std::string max_requests_text;
    tls::ServerSettings tls_settings;
    std::string handshake_text;
    std::string metrics_text;
    std::string mode_help = "how requests run:";
    for (const ModeInfo& info : modes())
        mode_help += std::string(info.mode == modes().front().mode ? " " : "; ") + std::string(info.name) + " (" +
                     std::string(info.help) + ")";
    if (!spec.default_mode_reason.empty())
        mode_help.append(". Default ").append(to_string(spec.default_mode)).append(": ").append(spec.default_mode_reason);

    po::options_description common("Server options");
    common.add_options()
        ("help,h", "show this help and exit")
        ("version", "show the version and exit")
        ("host", po::value(&options.host)->default_value(spec.default_host),
         "address to bind: IPv4, IPv6 or a host name (\"\" = every IPv4 interface, \"::\" every IPv6 one)")
        ("port,p", po::value(&port_text)->default_value(std::to_string(spec.default_port)),
         "port to bind (0 = any free port; the one chosen is printed at start)")
        ("unix", po::value(&options.unix_path), "Unix socket path to bind, for the Unix transports")
        ("mode,m", po::value(&mode_text)->default_value(std::string(to_string(spec.default_mode))), mode_help.c_str())
        ("workers,w", po::value(&workers_text)->default_value("1"),
         "processes serving, each in --mode, under a master that binds and supervises them (auto = one per CPU)")
        ("graceful-timeout", po::value(&graceful_text)->default_value("30"),
         "with --workers: seconds a stopping worker gets to finish its requests before it is killed")
        ("max-requests", po::value(&max_requests_text)->default_value("0"),
         "with --workers: replace a worker after about this many requests (0 = never; up to 1/8 more, at random)")
        ("dual-stack", po::bool_switch(&options.dual_stack), "with --host ::, accept IPv4 clients too")
        ("defer-accept", po::bool_switch(&options.defer_accept),
         "TCP: take a connection only once its first bytes arrive (TCP_DEFER_ACCEPT, as Apache does and nginx's "
         "'deferred'): 10-20% more short connections a second; a client silent over a second is taken late, and "
         "under a flood of silent ones the kernel may drop some")
        ("proxy-protocol", po::bool_switch(&options.proxy_protocol.enabled),
         "every connection starts with a PROXY protocol header (v1 or v2, as HAProxy's send-proxy sends): "
         "its client is the one the header names")
        ("proxy-from", po::value(&proxy_from_text)->default_value("127.0.0.0/8,::1/128"),
         "with --proxy-protocol: the networks (CIDR, comma-separated) allowed to send the header; others are refused")
        ("metrics", po::value(&metrics_text),
         "serve Prometheus metrics (GET /metrics) and a status page (GET /status) on PORT (loopback), HOST:PORT or a Unix socket path")
        ("verbose,v", po::bool_switch(&options.verbose), "also report vanished peers and time-outs");

    // Each mode's own options, as its table entry declares them (modes.hpp).
    po::options_description per_mode("Mode options");
    for (const ModeInfo& info : modes())
        for (const ModeOption& option : info.options) {
            const std::string name(option.name);
            const std::string help = std::string(info.name) + " mode: " + std::string(option.help);
            per_mode.add_options()(name.c_str(), po::value<std::string>()->default_value(number_text(option, option.get(spec.mode_defaults))),
                                   help.c_str());
            if (!option.deprecated_name.empty()) {
                const std::string old(option.deprecated_name);
                per_mode.add_options()(old.c_str(), po::value<std::string>(), ("deprecated spelling of --" + name).c_str());
            }
        }

    po::options_description tls_options("TLS options");
    if (spec.streams)
        tls_options.add_options()
            ("tls-cert", po::value(&tls_settings.certificate),
             "serve TLS: PEM file with the certificate, then its chain (and the key, unless --tls-key)")
            ("tls-key", po::value(&tls_settings.key), "with --tls-cert: PEM file with the private key")
            ("tls-password-file", po::value(&tls_settings.password_file),
             "with --tls-cert: file whose first line is the key's password")
            ("tls-client-ca", po::value(&tls_settings.client_ca),
             "with --tls-cert: require client certificates signed by these CAs (PEM): mutual TLS")
            ("tls-handshake-timeout", po::value(&handshake_text)->default_value("10"),
             "with --tls-cert: seconds a connection gets for its whole TLS handshake");

    const po::options_description& own = spec.declared_->options;
    const po::positional_options_description& positional = spec.declared_->positional;
    po::options_description all;
    all.add(common);
    all.add(per_mode);
    if (spec.streams) all.add(tls_options);
    if (!own.options().empty()) all.add(own);

    auto parsed = std::make_shared<Values::Parsed>();
    po::variables_map& values = parsed->map;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), values);
        if (values.count("help")) {
            std::cout << "usage: " << program << " [options]";
            for (unsigned i = 0; i < positional.max_total_count() && i < 4; ++i)
                std::cout << " [" << positional.name_for_position(i) << "]";
            std::cout << "\n";
            if (!spec.summary.empty()) std::cout << spec.summary << "\n";
            std::cout << "\n" << all;
            std::exit(0);
        }
        if (values.count("version")) {
            std::cout << program << " (sockserv " SOCKSERV_VERSION ")\n";
            std::exit(0);
        }
        po::notify(values);
    } catch (const po::error& error) {
        usage_error(program, error.what());
    }

    options.port = static_cast<std::uint16_t>(parse_number(program, "port", port_text, 0, 65535));
    try {
        options.proxy_protocol.trusted = Network::parse_list(proxy_from_text);
    } catch (const std::invalid_argument& error) {
        usage_error(program, "invalid --proxy-from: " + std::string(error.what()));
    }
    for (const ModeInfo& info : modes())
        for (const ModeOption& option : info.options) {
            std::string name(option.name);
            const std::string old(option.deprecated_name);
            const bool old_spelling = !old.empty() && values.count(old) && values[name].defaulted();
            if (old_spelling) name = old;
            option.set(options.mode_settings, parse_mode_option(program, option, name, values[name].as<std::string>()));
            if (old_spelling) log(program, ": --", old, " is deprecated: use --", option.name);
        }
    if (workers_text == "auto") {
        const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
        options.workers = static_cast<std::size_t>(std::clamp<long>(cpus, 1, max_workers));
    } else {
        options.workers = parse_number(program, "workers", workers_text, 1, max_workers);
    }
    options.graceful_timeout = std::chrono::milliseconds(
        static_cast<long long>(parse_seconds(program, "graceful-timeout", graceful_text, 0, 86400) * 1000));
    options.max_requests = parse_number(program, "max-requests", max_requests_text, 0, 1ull << 60);
    const auto mode = parse_mode(mode_text);
    if (!mode) usage_error(program, "invalid --mode '" + mode_text + "' (choose " + std::string(mode_names()) + ")");
    options.mode = *mode;
    options.values = Values(std::move(parsed));
    if (tls_settings.certificate.empty()) {
        for (const char* name : {"tls-key", "tls-password-file", "tls-client-ca", "tls-handshake-timeout"})
            if (values.count(name) && !values[name].defaulted())
                usage_error(program, "--" + std::string(name) + " needs --tls-cert");
    } else {
        const double seconds = parse_seconds(program, "tls-handshake-timeout", handshake_text, 0.001, 3600);
        tls_settings.handshake_timeout = std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000)));
        tls_settings.alpn = spec.tls_alpn;
        try {
            options.tls = std::make_shared<const tls::ServerContext>(std::move(tls_settings));
        } catch (const tls::ConfigError& error) {
            // Not a usage mistake (no "try --help"): a file that cannot serve, said at start.
            log_error(program, error.what());
            std::exit(2);
        }
    }
    if (!metrics_text.empty()) {
        try {
            options.observability = std::make_shared<Observability>(options.program, Observability::parse_listen(metrics_text));
        } catch (const std::exception& error) {
            usage_error(program, "invalid --metrics " + metrics_text + ": " + error.what());
        }
        if (options.workers > 1) options.observability->registry().set_workers(options.workers);
    }
    options.passed_sockets = take_passed_sockets();
    return options;
}

}  // namespace cli
}  // namespace sockserv
