# attempts: libc mount(): tmpfs on scratch, remount /usr read-write, recursive bind of / into scratch, a fresh procfs
# category: ctypes
import ctypes
import os

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
os.makedirs("mnt", exist_ok=True)
attempts = [(b"none", b"mnt", b"tmpfs", 0, "tmpfs on ./mnt"),
            (None, b"/usr", None, MS_REMOUNT | MS_BIND, "remount /usr read-write"),
            (b"/", b"mnt", None, MS_BIND | MS_REC, "recursive bind of / onto ./mnt"),
            (b"proc", b"mnt", b"proc", 0, "new procfs on ./mnt")]
errors, won = [], []
for src, dst, fstype, flags, what in attempts:
    if libc.mount(src, dst, fstype, flags, None) == 0:
        won.append(what)
    else:
        err = ctypes.get_errno()
        errors.append(OSError(err, f"mount ({what}): {os.strerror(err)}"))
if won:
    print("ESCAPED: mount(2) allowed: " + "; ".join(won))
else:
    raise errors[-1]
