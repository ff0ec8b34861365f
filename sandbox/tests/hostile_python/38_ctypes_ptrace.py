# attempts: ptrace(PTRACE_SEIZE) every other visible process (pid 1, the parent, anything in /proc), then detach
# category: ctypes
import ctypes
import os

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_DETACH, PTRACE_SEIZE = 17, 0x4206
pids = {1, os.getppid()}
try:
    pids |= {int(n) for n in os.listdir("/proc") if n.isdigit()}
except OSError:
    pass
pids -= {0, os.getpid()}
errors, won = [], []
for pid in sorted(pids):
    if libc.ptrace(PTRACE_SEIZE, pid, None, None) == 0:
        won.append(pid)
        libc.ptrace(PTRACE_DETACH, pid, None, None)
    else:
        err = ctypes.get_errno()
        errors.append(OSError(err, f"ptrace(PTRACE_SEIZE, {pid}): {os.strerror(err)}"))
if won:
    print(f"ESCAPED: ptrace attached to pids {won}")
else:
    raise errors[-1] if errors else ProcessLookupError("no other process to attach to")
