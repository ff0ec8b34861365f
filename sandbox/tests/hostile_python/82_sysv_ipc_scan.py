# attempts: list /proc/sysvipc/{shm,msg,sem} and shmat() guessed SysV segment ids 0..63 (host IPC namespace leak)
# category: ipc
import ctypes
import os

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
errors, found = [], []
for p in ("/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem"):
    try:
        with open(p) as f:
            found += [f"{p}: {line.split()[:2]}" for line in f.read().splitlines()[1:] if line.strip()]
    except OSError as e:
        errors.append(e)
for shmid in range(64):
    addr = libc.shmat(shmid, None, 0o10000)  # SHM_RDONLY
    if addr not in (None, ctypes.c_void_p(-1).value):
        found.append(f"attached shm id {shmid}")
        libc.shmdt(ctypes.c_void_p(addr))
    else:
        err = ctypes.get_errno()
        errors.append(OSError(err, f"shmat({shmid}): {os.strerror(err)}"))
if found:
    print("ESCAPED: foreign SysV IPC objects visible: " + "; ".join(found[:5]))
else:
    raise errors[-1]
