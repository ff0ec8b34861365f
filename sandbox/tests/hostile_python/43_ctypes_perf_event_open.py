# attempts: raw perf_event_open: a software CPU-clock counter on self, then system-wide on CPU 0 (side channels, kernel bugs)
# category: ctypes
import ctypes
import os
import platform
import struct

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
SYS_perf_event_open = 298 if platform.machine() == "x86_64" else 241
flags = 1 | (1 << 5) | (1 << 6)  # disabled, exclude_kernel, exclude_hv
attr = struct.pack("=IIQQQQQ", 1, 112, 0, 0, 0, 0, flags).ljust(112, b"\0")  # PERF_TYPE_SOFTWARE, CPU_CLOCK
buf = ctypes.create_string_buffer(attr, len(attr))
errors, won = [], []
for pid, cpu, what in ((0, -1, "self"), (-1, 0, "system-wide on CPU 0")):
    fd = libc.syscall(L(SYS_perf_event_open), buf, L(pid), L(cpu), L(-1), L(0))
    if fd >= 0:
        won.append(f"{what} (fd {fd})")
    else:
        err = ctypes.get_errno()
        errors.append(OSError(err, f"perf_event_open({what}): {os.strerror(err)}"))
if won:
    print("ESCAPED: perf_event_open allowed: " + ", ".join(won))
else:
    raise errors[-1]
