#pragma once
// Everything, for programs that want one include.

#include <sockserv/address.hpp>
#include <sockserv/arrival_order.hpp>
#include <sockserv/base_server.hpp>
#include <sockserv/cli.hpp>
#include <sockserv/error.hpp>
#include <sockserv/event_mode.hpp>
#include <sockserv/file_root.hpp>
#include <sockserv/forking.hpp>
#include <sockserv/log.hpp>
#include <sockserv/modes.hpp>
#include <sockserv/passed_sockets.hpp>
#include <sockserv/process_mutex.hpp>
#include <sockserv/request.hpp>
#include <sockserv/request_handler.hpp>
#include <sockserv/serve.hpp>
#include <sockserv/shared_memory.hpp>
#include <sockserv/socket.hpp>
#include <sockserv/stream.hpp>
#include <sockserv/tcp_server.hpp>
#include <sockserv/text.hpp>
#include <sockserv/threading.hpp>
#include <sockserv/udp_server.hpp>
#include <sockserv/version.hpp>
#include <sockserv/waiting.hpp>
