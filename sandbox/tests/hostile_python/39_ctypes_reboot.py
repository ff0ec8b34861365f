# attempts: libc reboot(RB_DISABLE_CAD) — the harmless reboot command; acceptance means CAP_SYS_BOOT over the host
# category: ctypes
import ctypes
import os

libc = ctypes.CDLL("libc.so.6", use_errno=True)
RB_DISABLE_CAD = 0  # a real attacker would pass RB_POWER_OFF; this one only toggles Ctrl-Alt-Del
if libc.reboot(RB_DISABLE_CAD) == 0:
    print("ESCAPED: reboot(2) accepted (host could be powered off)")
else:
    err = ctypes.get_errno()  # EPERM without CAP_SYS_BOOT; EINVAL inside a pid namespace; EPERM/ENOSYS from seccomp
    raise OSError(err, "reboot(RB_DISABLE_CAD): " + os.strerror(err))
