# attempts: os.posix_spawn (vfork/clone + exec inside libc) of /bin/echo, then of python
# category: exec
import os
import sys

errors = []
for exe, argv in (("/bin/echo", ["echo", "spawned"]), (sys.executable, [sys.executable, "-c", "pass"])):
    try:
        pid = os.posix_spawn(exe, argv, {"PATH": "/usr/bin:/bin"})
    except OSError as e:
        errors.append(e)
        continue
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        print(f"ESCAPED: os.posix_spawn ran {exe} as pid {pid}")
        break
    errors.append(OSError(f"{exe} was spawned but exited with status {status}"))
else:
    raise errors[-1]
