#pragma once
// FileServiceHandler: the list/get/put file service over TCP: one connection, several commands,
// framed as framing.hpp says.

#include "service.hpp"

#include <sockserv/server/request_handler.hpp>

namespace tftp {

class FileServiceHandler : public sockserv::WithState<sockserv::StreamRequestHandler, Service> {
public:
    using WithState::WithState;
    void handle() override;
    /// A client that says nothing for this long is dropped (it holds a worker).
    static constexpr std::chrono::milliseconds idle_limit{60'000};

protected:
    std::optional<std::chrono::milliseconds> timeout() const override { return idle_limit; }

private:
    void list();
    void get(const std::string& name);
    /// False when the connection cannot go on (the upload's bytes did not all come).
    bool put(std::uint64_t size, const std::string& name);
    void send_error(std::uint16_t code, const std::string& message);
    void log(const std::string& line) const;
};

}  // namespace tftp
