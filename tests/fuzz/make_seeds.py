#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (tests/fuzz/corpus/<name>/) from the unit tests' own cases:
every string literal in the tests of that parser, C escapes decoded, adjacent literals joined.
The seeds are committed; run this again when the unit tests gain cases."""
import hashlib
import pathlib
import re
import shutil

root = pathlib.Path(__file__).resolve().parents[2]
sources = {
    "http_head": ["tests/apps/http/request_head_test.cpp", "tests/apps/http/http_server_test.cpp"],
    "http_url": ["tests/apps/http/url_test.cpp", "tests/apps/http/site_test.cpp"],
    "http_conditionals": ["tests/apps/http/validators_test.cpp", "tests/apps/http/site_test.cpp"],
    "tftp_packet": ["tests/apps/tftp/packet_test.cpp", "tests/apps/tftp/transfer_test.cpp"],
    "tftp_netascii": ["tests/apps/tftp/packet_test.cpp", "tests/apps/tftp/transfer_test.cpp"],
    "tftp_framing": ["tests/apps/tftp/files_test.cpp", "tests/apps/tftp/tftp_server_test.cpp"],
    # chat_nodes: its seeds are written by hand (whole payloads; the tests' literals are records).
    "chat_protocol": ["tests/apps/chat/protocol_test.cpp", "tests/apps/chat/members_test.cpp"],
}
literal = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
escapes = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\", '"': b'"', "'": b"'", "a": b"\a"}


def decode(text):
    out, i = bytearray(), 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "x":
            digits = re.match(r"[0-9a-fA-F]{1,2}", text[i + 2:]).group(0)
            out.append(int(digits, 16))
            i += 2 + len(digits)
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", text[i + 1:]).group(0)
            out.append(int(digits, 8) & 0xFF)
            i += 1 + len(digits)
        else:
            out += escapes.get(nxt, nxt.encode())
            i += 2
    return bytes(out)


def literals(source):
    # Adjacent literals ("a" "b", across lines) are one string, as the compiler sees them.
    joined = re.sub(r'"\s*\n\s*"', "", source)
    joined = re.sub(r'"\s+"', "", joined)
    for match in literal.finditer(joined):
        if joined[max(0, match.start() - 8):match.start()].endswith("include "):
            continue
        yield decode(match.group(1))



def frame(kind, body=b"", code=0):
    return bytes([1, kind]) + code.to_bytes(2, "big") + len(body).to_bytes(8, "big") + body


# Whole packets and streams the unit tests build with encode functions rather than literals.
built = {
    "tftp_packet": [
        b"\0\1hello.txt\0octet\0",
        b"\0\2up.bin\0octet\0blksize\0001428\0tsize\0004096\0",
        b"\0\1a\0netascii\0blksize\0008\0windowsize\00016\0timeout\0001\0tsize\0000\0",
        b"\0\1a\0OCTET\0BLKSIZE\00065464\0",
        b"\0\3\0\1" + b"x" * 512,
        b"\0\4\xff\xff",
        b"\0\5\0\1File not found\0",
        b"\0\6blksize\0001024\0tsize\000123\0",
    ],
    "tftp_netascii": [b"\x01line\r\nnext\rcr\0nul\n", b"\x07\r\r\n\n\r\0"],
    "tftp_framing": [
        frame(1),
        frame(2, b"hello.txt"),
        frame(3, (5).to_bytes(8, "big") + b"up.bin") + b"hello",
        frame(1) + frame(2, b"a") + frame(2, b"../etc/passwd"),
        frame(3, (1 << 40).to_bytes(8, "big") + b"big"),
        frame(8, b"boom", 3),
        frame(2, b"x")[:7],
    ],
}

for name, files in sources.items():
    seeds = set()
    for file in files:
        for value in literals((root / file).read_text()):
            if 2 <= len(value) <= 4096:
                seeds.add(value)
    seeds.update(built.get(name, []))
    if name == "http_conditionals":  # the harness reads a file size first
        seeds = {size + value for value in seeds for size in (b"\0" * 8, b"\x10\x27\0\0\0\0\0\0")}
    out = root / "tests/fuzz/corpus" / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for value in sorted(seeds):
        (out / hashlib.sha1(value).hexdigest()[:16]).write_bytes(value)
    print(f"{name}: {len(seeds)} seeds")
