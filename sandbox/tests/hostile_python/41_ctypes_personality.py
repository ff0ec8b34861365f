# attempts: libc personality(ADDR_NO_RANDOMIZE) to switch off ASLR for the process and its (would-be) children
# category: ctypes
import ctypes
import os

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.personality.argtypes = [ctypes.c_ulong]
ADDR_NO_RANDOMIZE, QUERY = 0x0040000, 0xFFFFFFFF
cur = libc.personality(QUERY)
if cur == -1:
    err = ctypes.get_errno()
    raise OSError(err, "personality(query): " + os.strerror(err))
if cur & ADDR_NO_RANDOMIZE:
    raise PermissionError("ADDR_NO_RANDOMIZE already set by the jail; cannot judge")
libc.personality(cur | ADDR_NO_RANDOMIZE)
new = libc.personality(QUERY)
if new != -1 and new & ADDR_NO_RANDOMIZE:
    print(f"ESCAPED: personality changed {cur:#x} -> {new:#x} (ASLR disabled)")
else:
    err = ctypes.get_errno()
    raise OSError(err, "personality(ADDR_NO_RANDOMIZE): " + os.strerror(err))
