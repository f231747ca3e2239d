#pragma once
// Everything, for programs that want one include: every layer of lib/, lowest first (the README's
// Layout draws them).

// base: no sockets, no threads
#include <sockserv/base/address.hpp>
#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/base/proxy_header.hpp>
#include <sockserv/base/text.hpp>
#include <sockserv/base/version.hpp>
// io: bytes in and out, and the waits every mode implements
#include <sockserv/io/byte_stream.hpp>
#include <sockserv/io/file_root.hpp>
#include <sockserv/io/open_file_cache.hpp>
#include <sockserv/io/socket.hpp>
#include <sockserv/io/stream.hpp>
#include <sockserv/io/waiting.hpp>
// process: children, the pool, shared state
#include <sockserv/process/arrival_order.hpp>
#include <sockserv/process/process_mutex.hpp>
#include <sockserv/process/shared_memory.hpp>
// server: the lifecycle, handlers, transports
#include <sockserv/server/base_server.hpp>
#include <sockserv/server/request.hpp>
#include <sockserv/server/request_handler.hpp>
#include <sockserv/server/tcp_server.hpp>
#include <sockserv/server/udp_server.hpp>
// modes: how requests run
#include <sockserv/modes/event_mode.hpp>
#include <sockserv/modes/forking.hpp>
#include <sockserv/modes/modes.hpp>
#include <sockserv/modes/threading.hpp>
// program: the command line and serve<>
#include <sockserv/program/cli.hpp>
#include <sockserv/program/passed_sockets.hpp>
#include <sockserv/program/serve.hpp>
