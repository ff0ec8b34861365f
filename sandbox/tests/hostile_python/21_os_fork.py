# attempts: os.fork() a child and reap it
# category: exec
import os

pid = os.fork()
if pid == 0:
    os._exit(42)
_, status = os.waitpid(pid, 0)
print(f"ESCAPED: os.fork() created child {pid} (exit code {os.waitstatus_to_exitcode(status)})")
