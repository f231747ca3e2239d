// tftp_client: the file service's client. Interactive (a small prompt) or one command for scripts.
//   tftp_client HOST [PORT]                  prompt: list, get NAME [LOCAL], put LOCAL [NAME], help, quit
//   tftp_client HOST [PORT] list | get NAME [LOCAL] | put LOCAL [NAME]
//   tftp_client --udp ...                    get/put over TFTP instead of the TCP service
//   tftp_client --tls [--cacert CA.pem] ...  the TCP service over TLS (a server with --tls-cert)

#include "client.hpp"

#include <sockserv/base/log.hpp>
#include <sockserv/program/cli.hpp>
#include <sockserv/server/signals.hpp>
#include <sockserv/base/version.hpp>

#include <boost/program_options.hpp>

#include <iostream>
#include <sstream>

#include <unistd.h>

namespace {

namespace po = boost::program_options;

constexpr const char* help_text =
    "commands:\n"
    "  list                 the server's files, with sizes\n"
    "  get NAME [LOCAL]     download NAME (to LOCAL, default its base name)\n"
    "  put LOCAL [NAME]     upload LOCAL (as NAME, default its base name)\n"
    "  help                 this text\n"
    "  quit                 leave\n";

struct Session {
    sockserv::Address server;
    bool udp = false;
    tftp::UdpOptions udp_options;
    std::string host;  // as typed: what the server's certificate must name
    std::unique_ptr<sockserv::tls::ClientContext> tls;
    std::unique_ptr<tftp::FileServiceClient> tcp;

    tftp::FileServiceClient& connection() {
        if (!tcp) tcp = std::make_unique<tftp::FileServiceClient>(server, tls.get(), host);
        return *tcp;
    }

    // Runs one command; false when it failed (reported on stderr).
    bool run(const std::vector<std::string>& words) {
        const std::string& command = words[0];
        try {
            if (command == "list" && words.size() == 1) {
                if (udp) throw tftp::ClientError(0, "list needs the TCP service (leave out --udp)");
                for (const auto& [name, size] : connection().list()) std::cout << size << "\t" << name << "\n";
                std::cout.flush();
            } else if (command == "get" && (words.size() == 2 || words.size() == 3)) {
                const std::filesystem::path local =
                    words.size() == 3 ? std::filesystem::path(words[2]) : std::filesystem::path(words[1]).filename();
                const auto bytes = udp ? tftp::udp_get(server, words[1], local, udp_options, true)
                                       : connection().get(words[1], local, true);
                std::cerr << "got " << words[1] << " (" << bytes << " bytes) -> " << local.string() << "\n";
            } else if (command == "put" && (words.size() == 2 || words.size() == 3)) {
                const std::string name =
                    words.size() == 3 ? words[2] : std::filesystem::path(words[1]).filename().string();
                const auto bytes = udp ? tftp::udp_put(server, words[1], name, udp_options, true)
                                       : connection().put(words[1], name, true);
                std::cerr << "put " << words[1] << " (" << bytes << " bytes) -> " << name << "\n";
            } else if (command == "help") {
                std::cout << help_text << std::flush;
            } else {
                std::cerr << "unknown command or wrong arguments: " << command << " (try help)\n";
                return false;
            }
            return true;
        } catch (const tftp::ClientError& error) {
            std::cerr << "error";
            if (error.code != 0) std::cerr << " " << error.code;
            std::cerr << ": " << error.what() << "\n";
        } catch (const std::system_error& error) {
            std::cerr << "error: " << error.what() << "\n";
            tcp.reset();  // the connection is unusable; the next command reconnects
        } catch (const sockserv::tls::HandshakeError& error) {
            std::cerr << "error: TLS handshake with " << host << ": " << error.what() << "\n";
            tcp.reset();
        }
        return false;
    }
};

std::vector<std::string> words_of(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string word; in >> word;) words.push_back(word);
    return words;
}

}  // namespace

int main(int argc, char** argv) {
    // A server that refuses an upload closes while we still send: that must be an error message
    // (its ERROR frame, read after the failed send), not death by SIGPIPE.
    sockserv::signals::ignore_sigpipe();
    po::options_description visible("options");
    std::string mode = "octet";
    visible.add_options()
        ("help,h", "show this help and exit")
        ("version", "show the version and exit")
        ("udp", "get/put over TFTP (UDP) instead of the TCP service")
        ("tls", "the TCP service over TLS, the server's certificate checked for HOST")
        ("cacert", po::value<std::string>(), "--tls: trust the CAs in this PEM file (default: the system's)")
        ("blksize", po::value<std::size_t>(), "--udp: ask for this block size (8..65464)")
        ("windowsize", po::value<unsigned>(), "--udp: ask for this window (RFC 7440)")
        ("mode", po::value(&mode)->default_value("octet"), "--udp: octet or netascii")
        ("timeout", po::value<double>()->default_value(1), "--udp: seconds before a packet is sent again");
    po::options_description hidden;
    hidden.add_options()("args", po::value<std::vector<std::string>>()->default_value({}, ""), "");
    po::options_description all;
    all.add(visible).add(hidden);
    po::positional_options_description positional;
    positional.add("args", -1);
    po::variables_map values;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), values);
        po::notify(values);
    } catch (const po::error& error) {
        sockserv::cli::usage_error("tftp_client", error.what());
    }
    if (values.count("help")) {
        std::cout << "usage: tftp_client [options] HOST [PORT] [COMMAND [ARGS...]]\n" << help_text << "\n" << visible;
        return 0;
    }
    if (values.count("version")) {
        std::cout << "tftp_client (sockserv " SOCKSERV_VERSION ")\n";
        return 0;
    }
    std::vector<std::string> args = values["args"].as<std::vector<std::string>>();
    if (args.empty()) {
        sockserv::cli::usage_error("tftp_client", "HOST is missing");
    }
    Session session;
    std::uint16_t port = 6969;
    std::size_t next = 1;
    if (args.size() > 1 && !args[1].empty() && args[1].find_first_not_of("0123456789") == std::string::npos) {
        const auto number = tftp::option_number(args[1], 1, 65535);
        if (!number) {
            sockserv::cli::usage_error("tftp_client", "invalid port '" + args[1] + "'");
        }
        port = static_cast<std::uint16_t>(*number);
        next = 2;
    }
    try {
        session.server = sockserv::Address(args[0], port);
    } catch (const std::exception& error) {
        sockserv::cli::usage_error("tftp_client", error.what());
    }
    session.udp = values.count("udp") > 0;
    session.host = args[0];
    if (values.count("cacert") && !values.count("tls")) sockserv::cli::usage_error("tftp_client", "--cacert needs --tls");
    if (values.count("tls")) {
        if (session.udp) sockserv::cli::usage_error("tftp_client", "--tls is for the TCP service (TFTP over UDP is plain)");
        sockserv::tls::ClientSettings settings;
        if (values.count("cacert")) settings.ca_file = values["cacert"].as<std::string>();
        try {
            session.tls = std::make_unique<sockserv::tls::ClientContext>(settings);
        } catch (const sockserv::tls::ConfigError& error) {
            sockserv::log_error("tftp_client", error.what());
            return 2;
        }
    }
    if (mode != "octet" && mode != "netascii") {
        sockserv::cli::usage_error("tftp_client", "--mode must be octet or netascii");
    }
    session.udp_options.netascii = mode == "netascii";
    if (values.count("blksize")) session.udp_options.blksize = values["blksize"].as<std::size_t>();
    if (values.count("windowsize"))
        session.udp_options.windowsize = static_cast<std::uint16_t>(std::min(values["windowsize"].as<unsigned>(), 65535u));
    session.udp_options.timeout = std::chrono::milliseconds(static_cast<long long>(values["timeout"].as<double>() * 1000));

    if (next < args.size()) {  // one command, for scripts
        const std::vector<std::string> words(args.begin() + static_cast<std::ptrdiff_t>(next), args.end());
        return session.run(words) ? 0 : 1;
    }
    const bool interactive = ::isatty(STDIN_FILENO) == 1;
    bool all_ok = true;
    for (std::string line;;) {
        if (interactive) std::cout << "tftp> " << std::flush;
        if (!std::getline(std::cin, line)) break;
        const auto words = words_of(line);
        if (words.empty()) continue;
        if (words[0] == "quit" || words[0] == "exit") break;
        all_ok = session.run(words) && all_ok;
    }
    if (interactive) std::cout << "\n";
    return all_ok ? 0 : 1;
}
