# attempts: read another process's memory with process_vm_readv (pid 1, the parent, anything visible in /proc)
# category: ctypes
import ctypes
import os
import platform

class IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_process_vm_readv = 310 if platform.machine() == "x86_64" else 270
pids = ({1, os.getppid()} | {int(n) for n in os.listdir("/proc") if n.isdigit()}) - {0, os.getpid()}
with open("/proc/self/maps") as f:
    fallback = int(f.readline().split("-")[0], 16)
errors, won = [], []
for pid in sorted(pids):
    addr = fallback
    try:
        with open(f"/proc/{pid}/maps") as f:
            addr = int(f.readline().split("-")[0], 16)
    except (OSError, ValueError) as e:
        errors.append(e)
    buf = ctypes.create_string_buffer(16)
    local, remote = IOVec(ctypes.addressof(buf), 16), IOVec(addr, 16)
    n = libc.syscall(ctypes.c_long(SYS_process_vm_readv), ctypes.c_long(pid), ctypes.byref(local), ctypes.c_long(1),
                     ctypes.byref(remote), ctypes.c_long(1), ctypes.c_long(0))
    if n > 0:
        won.append(pid)
    else:
        err = ctypes.get_errno()
        errors.append(OSError(err, f"process_vm_readv({pid}): {os.strerror(err)}"))
if won:
    print(f"ESCAPED: read memory of pids {won}")
else:
    raise errors[-1] if errors else ProcessLookupError("no other process visible")
