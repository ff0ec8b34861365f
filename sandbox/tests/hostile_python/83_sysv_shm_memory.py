# attempts: allocate 16 GiB through a SysV shared-memory segment (outside the heap and malloc accounting) and touch it
# category: ipc
import ctypes
import os

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
size = 16 << 30
shmid = libc.shmget(0, size, 0o1000 | 0o600)  # IPC_PRIVATE, IPC_CREAT
if shmid < 0:
    err = ctypes.get_errno()
    raise OSError(err, "shmget(16 GiB): " + os.strerror(err))
addr = libc.shmat(shmid, None, 0)
libc.shmctl(shmid, 0, None)  # IPC_RMID now, so nothing outlives the process even without an IPC namespace
if addr in (None, ctypes.c_void_p(-1).value):
    err = ctypes.get_errno()
    raise OSError(err, "shmat(16 GiB): " + os.strerror(err))  # ENOMEM under RLIMIT_AS
ctypes.memset(addr, 1, size)
print("ESCAPED: touched 16 GiB of SysV shared memory")
