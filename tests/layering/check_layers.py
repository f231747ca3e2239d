#!/usr/bin/env python3
"""The layering rule of lib/: a layer includes only itself and the layers below it.

    base < io < engine < process < server < modes < program

Every public header lives in lib/include/sockserv/<layer>/ (the umbrella sockserv.hpp alone stands
above them), every source in lib/src/<layer>/, and a source's private headers ("name.hpp") sit in
its own folder. Prints each breach as FILE:LINE and exits 1 when there is any.

    check_layers.py LIB_DIR        check a tree
    check_layers.py --self-test    check that a breach is caught (the rule itself can fail)
"""
import os
import re
import sys
import tempfile

LAYERS = ["base", "io", "engine", "process", "server", "modes", "program"]
RANK = {name: i for i, name in enumerate(LAYERS)}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def check(lib):
    breaches = []
    include_root = os.path.join(lib, "include", "sockserv")
    for top, kind in ((include_root, "include"), (os.path.join(lib, "src"), "src")):
        for folder, _, files in os.walk(top):
            relative = os.path.relpath(folder, top)
            for name in sorted(files):
                if not re.search(r"\.(hpp|cpp|hpp\.in)$", name):
                    continue
                path = os.path.join(folder, name)
                if relative == "." and not (kind == "include" and name == "sockserv.hpp"):
                    breaches.append(f"{path}: not in a layer's folder ({', '.join(LAYERS)})")
                    continue
                if relative == ".":
                    continue  # the umbrella header may include every layer
                layer = relative.split(os.sep)[0]
                if layer not in RANK:
                    breaches.append(f"{path}: '{layer}' is not a layer ({', '.join(LAYERS)})")
                    continue
                with open(path, encoding="utf-8") as text:
                    for number, line in enumerate(text, 1):
                        found = INCLUDE.match(line)
                        if not found:
                            continue
                        bracket, target = found.groups()
                        if bracket == '"':
                            if "/" in target or not os.path.exists(os.path.join(folder, target)):
                                breaches.append(f"{path}:{number}: \"{target}\" is not a private header of this folder")
                            continue
                        if not target.startswith("sockserv/"):
                            continue
                        parts = target.split("/")
                        if len(parts) < 3 or parts[1] not in RANK:
                            breaches.append(f"{path}:{number}: <{target}> is in no layer")
                        elif RANK[parts[1]] > RANK[layer]:
                            breaches.append(f"{path}:{number}: {layer} includes <{target}>, a layer above it")
    return breaches


def self_test():
    with tempfile.TemporaryDirectory() as lib:
        def write(path, text):
            full = os.path.join(lib, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as out:
                out.write(text)
        write("include/sockserv/io/socket.hpp", "#include <sockserv/base/fd.hpp>\n")
        write("src/io/socket.cpp", "#include <sockserv/io/socket.hpp>\n")
        assert check(lib) == [], check(lib)
        write("src/io/waiting.cpp", "#include <sockserv/engine/event_loop.hpp>\n")
        write("include/sockserv/stray.hpp", "\n")
        write("src/base/fd.cpp", '#include "../io/private.hpp"\n')
        found = check(lib)
        assert any("io includes <sockserv/engine/event_loop.hpp>" in b for b in found), found
        assert any("stray.hpp: not in a layer" in b for b in found), found
        assert any("not a private header" in b for b in found), found
    print("check_layers: self-test passed (a climbing include, a stray header and a foreign private header are caught)")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    breaches = check(sys.argv[1])
    for breach in breaches:
        print(breach)
    if breaches:
        print(f"check_layers: {len(breaches)} includes break the layering ({' < '.join(LAYERS)})")
        return 1
    print(f"check_layers: every include of lib/ keeps to the layers ({' < '.join(LAYERS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
