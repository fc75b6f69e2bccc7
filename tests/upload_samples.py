"""Files of the upload tests: a script that marks the page it runs in, HTML loading it, an SVG, a PNG."""
from __future__ import annotations

import struct
import zlib

SCRIPT = b"document.title = 'ran'; document.documentElement.dataset.ran = '1'; fetch('/admin/users');"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>document.title = "ran"</script></svg>'


def html_loading(script_url: str) -> bytes:
    """An HTML page that loads `script_url` as a script, as the attack's second upload did."""
    return f'<!doctype html><html><head><script src="{script_url}"></script></head><body>invoice</body></html>'.encode()


def png_bytes() -> bytes:
    """A real one-pixel PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
            + chunk(b"IEND", b""))
