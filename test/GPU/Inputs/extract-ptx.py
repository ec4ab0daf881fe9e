#!/usr/bin/env python3
"""Writes the PTX of every gpu.binary in MLIR text (stdin) to DIR/<name>.ptx,
then, with --ptxas, assembles each with `ptxas -arch=ARCH`. Prints one line
per kernel module and a summary; exits non-zero on any failure."""
import argparse
import os
import re
import subprocess
import sys

def unescape(s):
    # MLIR prints strings with llvm::printEscapedString: `\\` and `\XX` hex.
    out = bytearray()
    i = 0
    while i < len(s):
        if s[i] == "\\":
            if s[i + 1] == "\\":
                out += b"\\"
                i += 2
            else:
                out.append(int(s[i + 1:i + 3], 16))
                i += 3
        else:
            out += s[i].encode()
            i += 1
    return out.decode()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--ptxas")
    ap.add_argument("--arch", default="sm_90")
    args = ap.parse_args()
    text = sys.stdin.read()
    binaries = re.findall(r'gpu\.binary @(\w+)\s*\[#gpu\.object<[^\n]*?assembly = "((?:[^"\\]|\\.)*)"', text)
    if not binaries:
        print("no gpu.binary with PTX (assembly = ...) found")
        return 1
    os.makedirs(args.dir, exist_ok=True)
    for name, escaped in binaries:
        path = os.path.join(args.dir, name + ".ptx")
        with open(path, "w") as f:
            f.write(unescape(escaped))
        if args.ptxas:
            r = subprocess.run([args.ptxas, "-arch=" + args.arch, path, "-o", path + ".cubin"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print("ptxas failed on %s:\n%s" % (name, r.stderr))
                return 1
            print("assembled %s" % name)
        else:
            print("wrote %s" % name)
    print("%d kernel modules" % len(binaries))
    return 0

if __name__ == "__main__":
    sys.exit(main())
