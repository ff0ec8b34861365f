# attempts: bypass os.fork by calling the clone syscall directly through ctypes (fork semantics: SIGCHLD, no new stack)
# category: ctypes
import ctypes
import os
import platform

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
SYS_clone = 56 if platform.machine() == "x86_64" else 220
SIGCHLD = 17
pid = libc.syscall(L(SYS_clone), L(SIGCHLD), L(0), L(0), L(0), L(0))
if pid == 0:
    os._exit(0)
if pid < 0:
    err = ctypes.get_errno()
    raise OSError(err, "raw clone(SIGCHLD): " + os.strerror(err))
os.waitpid(pid, 0)
print(f"ESCAPED: raw clone syscall created child {pid}")
