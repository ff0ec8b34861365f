# attempts: raw add_key/keyctl syscalls: create a key in the (non-namespaced) kernel user keyring, then unlink it
# category: ctypes
import ctypes
import os
import platform

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
SYS_add_key, SYS_keyctl = (248, 250) if platform.machine() == "x86_64" else (217, 219)
KEY_SPEC_USER_KEYRING, KEYCTL_UNLINK = -4, 9
payload = b"trutheye-probe"
serial = libc.syscall(L(SYS_add_key), b"user", b"trutheye:probe", payload, L(len(payload)), L(KEY_SPEC_USER_KEYRING))
if serial >= 0:
    libc.syscall(L(SYS_keyctl), L(KEYCTL_UNLINK), L(serial), L(KEY_SPEC_USER_KEYRING))
    print(f"ESCAPED: add_key created key {serial} in the kernel user keyring")
else:
    err = ctypes.get_errno()
    raise OSError(err, "add_key: " + os.strerror(err))
