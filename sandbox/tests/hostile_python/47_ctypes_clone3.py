# attempts: raw clone3 syscall (435) with a struct clone_args — filters that inspect clone flags often miss clone3
# category: ctypes
import ctypes
import os
import struct

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
SIGCHLD = 17
args = struct.pack("=8Q", 0, 0, 0, 0, SIGCHLD, 0, 0, 0)  # flags, pidfd, child_tid, parent_tid, exit_signal, stack, size, tls
buf = ctypes.create_string_buffer(args, len(args))
pid = libc.syscall(ctypes.c_long(435), buf, ctypes.c_long(len(args)))
if pid == 0:
    os._exit(0)
if pid < 0:
    err = ctypes.get_errno()  # ENOSYS is the usual seccomp answer for clone3
    raise OSError(err, "clone3: " + os.strerror(err))
os.waitpid(pid, 0)
print(f"ESCAPED: clone3 created child {pid}")
