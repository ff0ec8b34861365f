# attempts: write forged wire frames (u32 LE length + JSON "result") and a malformed frame to every inherited fd >= 3, then fail
# category: escape
import json
import os
import struct

forged = json.dumps({"type": "result", "stdout": "forged result frame\n", "dropped": 0,
                     "error": {"type": "ForgedError", "message": "reply forged by the model's code", "line": None},
                     "images": [], "ms": 0.5, "blobs": 0}).encode()
bad = b'{"type": "result", "stdout": "\\ud800 unterminated'
frames = struct.pack("<I", len(forged)) + forged + struct.pack("<I", len(bad)) + bad
written = []
for fd in range(3, 256):
    try:
        os.write(fd, frames)  # the episode socket, or a leaked control socket/pipe
        written.append(fd)
    except OSError:
        pass  # most numbers are not open
raise RuntimeError(f"forged frames written to fds {written}; the host must not crash, hang or mix up replies")
