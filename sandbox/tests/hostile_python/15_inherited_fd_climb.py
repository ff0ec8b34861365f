# attempts: reopen every directory fd in /proc/self/fd, /proc/1/fd, /proc/PPID/fd and climb '..' with openat to reach host canaries
# category: fs
import os

errors, found, fdpaths = [], None, []
for d in ("/proc/self/fd", "/proc/1/fd", f"/proc/{os.getppid()}/fd"):
    try:
        fdpaths += [os.path.join(d, n) for n in os.listdir(d)]
    except OSError as e:
        errors.append(e)
names = ("CANARY", "sandbox/tests/hostile_python/CANARY", "tmp/trutheye-canary/canary.txt",
         "trutheye-canary/canary.txt", "work/main/sandbox/tests/hostile_python/CANARY")
for p in fdpaths:
    try:
        dfd = os.open(p, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        errors.append(e)
        continue
    for _ in range(16):
        for name in names:
            try:
                fd = os.open(name, os.O_RDONLY, dir_fd=dfd)
                if b"TRUTHEYE-CANARY" in os.read(fd, 4096):
                    found = f"{p} + ../ + {name}"
                os.close(fd)
            except OSError as e:
                errors.append(e)
        try:
            dfd = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd)
        except OSError as e:
            errors.append(e)
            break
if found:
    print(f"ESCAPED: reached the canary from an inherited descriptor: {found}")
else:
    raise errors[-1] if errors else FileNotFoundError("no descriptors to climb from")
