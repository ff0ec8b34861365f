# attempts: crash the interpreter with ctypes memory writes (NULL page, then a live builtin's object header)
# category: ctypes
import ctypes

ctypes.memset(0, 0x41, 64)  # write to address 0 -> SIGSEGV; the host must survive and report it
ctypes.memset(id(print), 0, 64)  # only reached if the NULL write did not fault
print("interpreter still alive after corrupting print")
raise MemoryError("interpreter survived writes to NULL and to a live object")
