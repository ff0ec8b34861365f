# attempts: dodge RLIMIT_FSIZE with many 1 MiB files to fill scratch, /tmp and /dev/shm (4 GiB each)
# category: resource
import os

chunk = b"\x5a" * (1 << 20)
errors, full = [], []
for d in (".", "/tmp", "/dev/shm"):
    written = 0
    try:
        while written < (4 << 30):
            with open(os.path.join(d, f"fill_{written >> 20}"), "wb") as f:
                f.write(chunk)
            written += len(chunk)
    except OSError as e:
        errors.append(e)  # ENOSPC from the tmpfs cap is the expected stop
        continue
    full.append(d)
if full:
    print("ESCAPED: wrote 4 GiB in 1 MiB files to " + ", ".join(full))
else:
    raise errors[-1]
