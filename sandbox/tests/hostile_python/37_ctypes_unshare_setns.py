# attempts: libc unshare(CLONE_NEWUSER / NEWNS / NEWNET) and setns() into every /proc/1/ns/* namespace
# category: ctypes
import ctypes
import os

libc = ctypes.CDLL("libc.so.6", use_errno=True)
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
errors, won = [], []
for flags, what in ((CLONE_NEWUSER, "unshare(CLONE_NEWUSER)"), (CLONE_NEWUSER | CLONE_NEWNS, "unshare(NEWUSER|NEWNS)"),
                    (CLONE_NEWNET, "unshare(CLONE_NEWNET)")):
    if libc.unshare(flags) == 0:
        won.append(what)
    else:
        err = ctypes.get_errno()
        errors.append(OSError(err, f"{what}: {os.strerror(err)}"))
for ns in ("mnt", "net", "pid", "user", "uts", "ipc", "cgroup"):
    try:
        fd = os.open(f"/proc/1/ns/{ns}", os.O_RDONLY)
    except OSError as e:
        errors.append(e)
        continue
    if libc.setns(fd, 0) == 0:
        won.append(f"setns(/proc/1/ns/{ns})")
    else:
        err = ctypes.get_errno()
        errors.append(OSError(err, f"setns(/proc/1/ns/{ns}): {os.strerror(err)}"))
    os.close(fd)
if won:
    print("ESCAPED: namespace syscalls allowed: " + ", ".join(won))
else:
    raise errors[-1]
