#pragma once
// Everything, for programs that want one include.

#include <sockserv/base/address.hpp>
#include <sockserv/process/arrival_order.hpp>
#include <sockserv/server/base_server.hpp>
#include <sockserv/program/cli.hpp>
#include <sockserv/base/error.hpp>
#include <sockserv/modes/event_mode.hpp>
#include <sockserv/io/file_root.hpp>
#include <sockserv/modes/forking.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/modes/modes.hpp>
#include <sockserv/program/passed_sockets.hpp>
#include <sockserv/process/process_mutex.hpp>
#include <sockserv/server/request.hpp>
#include <sockserv/server/request_handler.hpp>
#include <sockserv/program/serve.hpp>
#include <sockserv/process/shared_memory.hpp>
#include <sockserv/io/socket.hpp>
#include <sockserv/io/stream.hpp>
#include <sockserv/server/tcp_server.hpp>
#include <sockserv/base/text.hpp>
#include <sockserv/modes/threading.hpp>
#include <sockserv/server/udp_server.hpp>
#include <sockserv/base/version.hpp>
#include <sockserv/io/waiting.hpp>
