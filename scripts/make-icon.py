#!/usr/bin/env python3
"""Writes a simple square PNG icon (a rounded tile with a lighter inner mark) using only the
standard library. Used to make the icons of examples/packages/*/images/ and of the
`vitrina package init` template.

usage: make-icon.py OUT.png RRGGBB [SIZE]
"""
import struct
import sys
import zlib


def chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def main() -> None:
    out, color = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    r, g, b = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    radius = size // 6
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter type: none
        for x in range(size):
            # Distance outside the rounded rectangle's corner circles.
            cx = min(max(x, radius), size - 1 - radius)
            cy = min(max(y, radius), size - 1 - radius)
            inside = (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius
            if not inside:
                row += bytes([0, 0, 0, 0])
                continue
            # A lighter disc in the middle.
            dx, dy = x - size / 2, y - size / 2
            if dx * dx + dy * dy <= (size * 0.28) ** 2:
                row += bytes([(r + 255 * 2) // 3, (g + 255 * 2) // 3, (b + 255 * 2) // 3, 255])
            else:
                row += bytes([r, g, b, 255])
        rows.append(bytes(row))
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
    png += chunk(b"IEND", b"")
    with open(out, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main()
