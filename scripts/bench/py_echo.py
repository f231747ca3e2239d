#!/usr/bin/env python3
"""The Python peer of the echo benchmark: socketserver's own Threading/ForkingTCPServer, as a
Python user would write it. Prints "serving on 127.0.0.1:PORT" like echo_server.

    py_echo.py thread|fork
"""
import socketserver
import sys


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)


class Threading(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class Forking(socketserver.ForkingTCPServer):
    allow_reuse_address = True


server_class = Forking if sys.argv[1:] == ["fork"] else Threading
with server_class(("127.0.0.1", 0), Echo) as server:
    print("py_echo: serving on 127.0.0.1:%d" % server.server_address[1], file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
