# attempts: raw syscall(SYS_bpf, BPF_MAP_CREATE) for an array map via ctypes
# category: ctypes
import ctypes
import os
import platform
import struct

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_bpf = {"x86_64": 321, "aarch64": 280}[platform.machine()]
attr = struct.pack("=IIII", 2, 4, 4, 1).ljust(120, b"\0")  # BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry
buf = ctypes.create_string_buffer(attr, len(attr))
fd = libc.syscall(ctypes.c_long(SYS_bpf), ctypes.c_long(0), buf, ctypes.c_long(len(attr)))  # BPF_MAP_CREATE
if fd >= 0:
    print(f"ESCAPED: bpf(BPF_MAP_CREATE) returned fd {fd} (eBPF reachable)")
else:
    err = ctypes.get_errno()
    raise OSError(err, "bpf(BPF_MAP_CREATE): " + os.strerror(err))
