# attempts: mmap /proc/self/mem, and open /proc/<pid>/mem read-write for pid 1, the parent and every other visible process
# category: proc
import mmap
import os

errors, won = [], []
try:
    fd = os.open("/proc/self/mem", os.O_RDWR)
    mmap.mmap(fd, mmap.PAGESIZE, offset=0)  # procfs mem has no mmap: ENODEV expected (own memory anyway)
except OSError as e:
    errors.append(e)
pids = {1, os.getppid()}
try:
    pids |= {int(n) for n in os.listdir("/proc") if n.isdigit()}
except OSError as e:
    errors.append(e)
pids -= {0, os.getpid()}
for pid in sorted(pids):
    try:
        with open(f"/proc/{pid}/mem", "r+b", buffering=0):
            won.append(pid)  # write access to another process's memory; nothing is written
    except OSError as e:
        errors.append(e)
if won:
    print(f"ESCAPED: opened /proc/<pid>/mem for writing for pids {won}")
else:
    raise errors[-1]
