#!/usr/bin/env python3
"""Loads a report.html in headless Chromium and checks what a reader sees.

  check_report_page.py CHROMIUM PAGE SECTION_ID...

Fails (exit 1, with the reason) when the page logs a console message of
level warning or error, when a section id is missing from the DOM Chromium
built, or when the screenshot is blank (fewer than 3 distinct colours or
no non-white pixel in its upper half). Standard library only: the PNG is
decoded here (8-bit RGB/RGBA, no interlacing, as Chromium writes it).
"""
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib


def chromium(binary, profile, *args):
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=" + profile,
           "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def png_pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise SystemExit(f"{path}: unexpected PNG format {header}")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    binary, page, *sections = sys.argv[1:]
    url = "file://" + os.path.abspath(page)
    with tempfile.TemporaryDirectory() as tmp:
        dom = chromium(binary, os.path.join(tmp, "p1"), "--dump-dom", url)
        if dom.returncode != 0:
            raise SystemExit(f"chromium --dump-dom failed ({dom.returncode}): {dom.stderr[-2000:]}")
        console = [l for l in dom.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
        if console:
            raise SystemExit("console messages:\n" + "\n".join(console))
        ids = set(re.findall(r'id="([^"]+)"', dom.stdout))
        missing = [s for s in sections if s not in ids]
        if missing:
            raise SystemExit(f"sections missing from the DOM: {missing}")
        shot = os.path.join(tmp, "shot.png")
        r = chromium(binary, os.path.join(tmp, "p2"), "--screenshot=" + shot, "--window-size=1000,1400", url)
        if r.returncode != 0 or not os.path.exists(shot):
            raise SystemExit(f"chromium --screenshot failed ({r.returncode}): {r.stderr[-2000:]}")
        width, height, bpp, rows = png_pixels(shot)
        colours = set()
        inked = False
        for y in range(0, height, 4):
            row = rows[y]
            for x in range(0, width, 4):
                px = row[x * bpp:x * bpp + 3]
                colours.add(px)
                inked = inked or (y < height // 2 and px != b"\xff\xff\xff")
        if len(colours) < 3 or not inked:
            raise SystemExit(f"the screenshot looks blank: {len(colours)} colours, ink in the upper half: {inked}")
    print(f"page ok: {len(sections)} sections, {len(colours)} colours in a {width}x{height} screenshot")


if __name__ == "__main__":
    main()
