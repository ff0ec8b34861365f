# attempts: hard-link the canary, the python binary and stdlib files into scratch (to write or keep them)
# category: fs
import os
import sys

srcs = ["/tmp/trutheye-canary/canary.txt", "/proc/1/root/tmp/trutheye-canary/canary.txt",
        "/work/main/sandbox/tests/hostile_python/CANARY", os.path.realpath(sys.executable),
        os.__file__, "/usr/bin/env"]
errors, linked = [], []
for i, src in enumerate(srcs):
    dst = f"hardlink_{i}"
    if os.path.lexists(dst):
        os.unlink(dst)
    try:
        os.link(src, dst)  # EXDEV across mounts, ENOENT for host-only paths
    except OSError as e:
        errors.append(e)
        continue
    linked.append(src)
if linked:
    print("ESCAPED: hard-linked files from outside scratch: " + ", ".join(linked))
else:
    raise errors[-1]
