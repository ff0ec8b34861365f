# attempts: os.system() a shell command (fork + exec of /bin/sh)
# category: exec
import os

status = os.system("echo 'ESCAPED: os.system ran /bin/sh'")
if status != 0:  # os.system reports failure as a status, not an exception
    raise OSError(f"os.system could not run a shell (status {status})")
