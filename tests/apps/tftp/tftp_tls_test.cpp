// The TCP file service over TLS: tftp_server --tls-cert, tftp_client --tls --cacert. TFTP over
// UDP on the same port stays plain, as the RFC has it.

#include "../../support/every_mode.hpp"
#include "../../support/tls_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <random>

using namespace std::chrono_literals;
using test::shell_quote;

namespace {

const test::Certificates& certificates() {
    static const test::Certificates made;
    return made;
}

std::string bytes_of(std::size_t size) {
    std::mt19937 random(static_cast<unsigned>(size));
    std::string out(size, '\0');
    for (char& c : out) c = static_cast<char>(random() & 0xFF);
    return out;
}

void check_tls_file_service(const std::string& mode) {
    test::TempDir served, local;
    const std::string original = bytes_of(3'000'001);
    std::ofstream(served / "big.bin", std::ios::binary) << original;
    std::ofstream(local / "up.bin", std::ios::binary) << original.substr(0, 777'777);

    std::vector<std::string> argv{test::binary("tftp_server"), "--port", "0", "-d", served.path().string(),
                                  "--allow-upload", "--create"};
    const auto mode_args = test::mode_arguments(mode);
    argv.insert(argv.end(), mode_args.begin(), mode_args.end());
    for (const auto& option : certificates().server_options()) argv.push_back(option);
    test::Process server(argv);
    const sockserv::Address address = server.wait_until_serving();
    CHECK_NOTHROW(server.wait_for_line("^tftp_server: TLS 1\\.2-1\\.3, kTLS: "));
    const std::string client = "cd " + shell_quote(local.path().string()) + " && " +
                               shell_quote(test::binary("tftp_client")) + " --tls --cacert " +
                               shell_quote(certificates().ca()) + " localhost " + std::to_string(address.port()) + " ";

    CHECK(test::run(client + "list").find("3000001\tbig.bin") != std::string::npos);
    test::run(client + "get big.bin 2>&1");
    CHECK(test::read_file(local / "big.bin") == original);
    test::run(client + "put up.bin 2>&1");
    CHECK(test::read_file(served / "up.bin") == original.substr(0, 777'777));

    // A client that does not trust the server's CA stops at the handshake, and says why.
    const auto untrusted = test::run_command("cd " + shell_quote(local.path().string()) + " && " +
                                             shell_quote(test::binary("tftp_client")) + " --tls --cacert " +
                                             shell_quote(certificates().other_ca()) + " localhost " +
                                             std::to_string(address.port()) + " list 2>&1");
    CHECK(untrusted.status != 0);
    CHECK(untrusted.output.find("error: TLS handshake with localhost: certificate verify failed") != std::string::npos);
    // A plain client on the TLS service: closed, logged.
    const auto plain = test::run_command(shell_quote(test::binary("tftp_client")) + " 127.0.0.1 " +
                                         std::to_string(address.port()) + " list 2>&1");
    CHECK(plain.status != 0);
    CHECK_NOTHROW(server.wait_for_line(R"(TLS handshake with 127\.0\.0\.1:\d+: .*; closed)"));
    // TFTP over UDP on the same port is plain, as before.
    test::run("cd " + shell_quote(local.path().string()) + " && tftp 127.0.0.1 " + std::to_string(address.port()) +
              " -m octet -c get big.bin udp.bin");
    CHECK(test::read_file(local / "udp.bin") == original);
}

}  // namespace

TEST_EVERY_APP_MODE("tftp_client --tls lists, gets and puts over the TLS file service", "[tftp][app][tls]") {
    check_tls_file_service(mode);
}

TEST_CASE("tftp_client --tls with --workers 2", "[tftp][app][tls][pool]") { check_tls_file_service("thread/w2"); }
