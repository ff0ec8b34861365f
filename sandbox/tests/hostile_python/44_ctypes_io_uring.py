# attempts: raw syscall 425 io_uring_setup via ctypes (io_uring can perform I/O that seccomp never sees)
# category: ctypes
import ctypes
import os

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
fd = libc.syscall(ctypes.c_long(425), ctypes.c_long(8), params)
if fd >= 0:
    print(f"ESCAPED: io_uring_setup returned ring fd {fd}")
else:
    err = ctypes.get_errno()
    raise OSError(err, "io_uring_setup: " + os.strerror(err))
