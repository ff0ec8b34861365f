# attempts: fileless exec: copy /bin/sh into a memfd_create() file and execv /proc/self/fd/N
# category: exec
import os
import sys

fd = os.memfd_create("payload", 0)
with open("/bin/sh", "rb") as f:
    os.write(fd, f.read())
sys.stdout.flush()
os.execv(f"/proc/self/fd/{fd}", ["sh", "-c", "echo 'ESCAPED: executed a binary from a memfd (fileless exec)'"])
