# attempts: inotify watches (via ctypes) on the host canary directories to observe host file activity
# category: fs
import ctypes
import os

libc = ctypes.CDLL("libc.so.6", use_errno=True)
ifd = libc.inotify_init1(0)
if ifd < 0:
    err = ctypes.get_errno()
    raise OSError(err, "inotify_init1: " + os.strerror(err))
errors, won = [], []
for p in (b"/tmp/trutheye-canary", b"/proc/1/root/tmp/trutheye-canary",
          b"/work/main/sandbox/tests/hostile_python", b"/proc/1/cwd", b"/root", b"/home"):
    wd = libc.inotify_add_watch(ifd, p, 0xFFF)  # IN_ALL_EVENTS
    if wd < 0:
        err = ctypes.get_errno()
        errors.append(OSError(err, f"inotify_add_watch({p.decode()}): {os.strerror(err)}"))
        continue
    if os.path.exists(os.path.join(p.decode(), "canary.txt")) or os.path.exists(os.path.join(p.decode(), "CANARY")):
        won.append(p.decode())
if won:
    print("ESCAPED: watching host canary directories: " + ", ".join(won))
else:
    raise errors[-1] if errors else PermissionError("watches only landed on jail-private directories")
