#!/usr/bin/env python3
"""The Python peer of the chat benchmark: the plain way to write a UDP chat server in Python
(a dict of name -> address, one recvfrom loop, a child process for the admin's input), speaking the
same protocol as chat_server. Prints "serving on 127.0.0.1:PORT" like chat_server.

    py_chat.py
"""
import os
import sys
from socket import socket, AF_INET, SOCK_DGRAM


def do_login(s, user, name, addr):
    if name in user or "admin" in name:
        s.sendto(b"ERR name is taken\n", addr)
        return
    s.sendto(b"OK\n", addr)
    msg = "%s joined\n" % name
    for i in user:
        s.sendto(msg.encode(), user[i])
    user[name] = addr


def do_chat(s, user, name, text):
    msg = "%s: %s\n" % (name, text)
    for i in user:
        if i != name:
            s.sendto(msg.encode(), user[i])


def do_quit(s, user, name):
    msg = "%s left\n" % name
    for i in user:
        if i != name:
            s.sendto(msg.encode(), user[i])
    user.pop(name, None)


def do_request(s):
    user = {}
    while True:
        data, addr = s.recvfrom(1024)
        tmp = data.decode(errors="replace").split(" ", 2)
        if tmp[0] == "L" and len(tmp) > 1:
            do_login(s, user, tmp[1].strip(), addr)
        elif tmp[0] == "C" and len(tmp) > 2:
            do_chat(s, user, tmp[1], tmp[2].rstrip("\n"))
        elif tmp[0] == "Q" and len(tmp) > 1:
            do_quit(s, user, tmp[1].strip())


def main():
    s = socket(AF_INET, SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    print("py_chat: serving on 127.0.0.1:%d" % s.getsockname()[1], file=sys.stderr, flush=True)
    pid = os.fork()
    if pid == 0:  # the admin: lines on stdin become announcements
        for line in sys.stdin:
            s.sendto(("C admin " + line).encode(), s.getsockname())
        os._exit(0)
    try:
        do_request(s)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
