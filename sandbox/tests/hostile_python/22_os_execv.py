# attempts: os.execv to replace the interpreter with /bin/sh, then with a fresh python
# category: exec
import os
import sys

errors = []
sys.stdout.flush()
for exe, argv in (("/bin/sh", ["sh", "-c", "echo 'ESCAPED: os.execv replaced the interpreter with /bin/sh'"]),
                  (sys.executable, [sys.executable, "-c", "print('ESCAPED: os.execv re-executed python')"])):
    try:
        os.execv(exe, argv)  # only returns by raising
    except OSError as e:
        errors.append(e)
raise errors[-1]
