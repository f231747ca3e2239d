// greeter: serve<> with the shared command line. --mode sync|thread|fork|event, --workers N,
// --port, Ctrl-C and SIGTERM, sockets from systemd: all from sockserv; the app adds --greeting.
//   greeter --port 0 --mode event --greeting Hi      then: echo Ann | nc -q1 127.0.0.1 PORT

#include <sockserv/program/cli.hpp>
#include <sockserv/server/request_handler.hpp>
#include <sockserv/program/serve.hpp>

#include <string>

struct Greeting {
    std::string word;
};

struct Greeter : sockserv::WithState<sockserv::StreamRequestHandler, Greeting> {
    using WithState::WithState;
    void handle() override {
        std::string name;
        while (rfile().readline(name)) {
            if (!name.empty() && name.back() == '\n') name.pop_back();
            wfile().write(state().word + ", " + name + "!\n");
        }
    }
};

int main(int argc, char** argv) {
    sockserv::cli::Spec spec;
    spec.summary = "Greets every line's name.";
    spec.option<std::string>("greeting", "Hello", "what to say");
    const auto options = sockserv::cli::parse(argc, argv, "greeter", std::move(spec));
    Greeting greeting{options.values.get<std::string>("greeting")};
    return sockserv::serve<sockserv::TCPServer, Greeter>(options, greeting);
}
