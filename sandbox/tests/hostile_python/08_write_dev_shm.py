# attempts: store data in /dev/shm, /dev/mqueue, /dev, /run/shm (memory-backed storage outside the capped scratch)
# category: fs
import os

capped = {os.stat(".").st_dev}
if os.path.isdir("/tmp"):
    capped.add(os.stat("/tmp").st_dev)
errors, written = [], []
for d in ("/dev/shm", "/dev/mqueue", "/dev", "/run/shm", "/dev/pts"):
    p = os.path.join(d, "trutheye_escape")
    try:
        if os.stat(d).st_dev in capped:
            continue
        with open(p, "wb") as f:
            f.write(b"\0" * (1 << 20))  # 1 MiB to show it is usable storage
    except OSError as e:
        errors.append(e)
        continue
    os.unlink(p)
    written.append(d)
if written:
    print("ESCAPED: wrote 1 MiB outside the capped scratch tmpfs in: " + ", ".join(written))
else:
    raise errors[-1] if errors else PermissionError("no shm-like directory outside scratch/tmp")
