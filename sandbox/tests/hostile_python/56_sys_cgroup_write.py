# attempts: move self to the root cgroup and rewrite cgroup limits (memory.max, pids.max, cpu.max; v1 limit_in_bytes)
# category: proc
import os

errors, won, own = [], [], ""
try:
    with open("/proc/self/cgroup") as f:
        own = f.read().strip().splitlines()[-1].split(":", 2)[2]
except (OSError, IndexError) as e:
    errors.append(e)
for d in sorted({"/sys/fs/cgroup", "/sys/fs/cgroup" + own.rstrip("/"), "/sys/fs/cgroup/memory"}):
    for name in ("memory.max", "pids.max", "cpu.max", "memory.limit_in_bytes"):
        p = os.path.join(d, name)
        try:
            with open(p) as f:
                cur = f.read()
            with open(p, "w") as f:
                f.write(cur)  # same value: proves write access to the limit
        except OSError as e:
            errors.append(e)
            continue
        won.append(p)
try:
    with open("/sys/fs/cgroup/cgroup.procs", "w") as f:
        f.write(str(os.getpid()))  # escape all cgroup limits
    won.append("moved to the root cgroup")
except OSError as e:
    errors.append(e)
if won:
    print("ESCAPED: cgroup control files writable: " + ", ".join(won))
else:
    raise errors[-1]
