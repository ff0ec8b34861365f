# attempts: exec a new python via libc execv() and via the raw execve syscall, bypassing os.exec*
# category: ctypes
import ctypes
import os
import platform
import sys

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
exe = sys.executable.encode()
sys.stdout.flush()
argv = (ctypes.c_char_p * 4)(exe, b"-c", b"print('ESCAPED: libc execv via ctypes ran python')", None)
libc.execv(exe, argv)
err1 = ctypes.get_errno()
SYS_execve = 59 if platform.machine() == "x86_64" else 221
argv2 = (ctypes.c_char_p * 4)(exe, b"-c", b"print('ESCAPED: raw execve syscall via ctypes ran python')", None)
envp = (ctypes.c_char_p * 1)(None)
libc.syscall(ctypes.c_long(SYS_execve), exe, argv2, envp)
err2 = ctypes.get_errno()
raise OSError(err2, f"execv: {os.strerror(err1)}; raw execve: {os.strerror(err2)}")
