# attempts: subprocess.Popen of a second Python interpreter (sys.executable) with a pipe
# category: exec
import subprocess
import sys

p = subprocess.Popen([sys.executable, "-c", "print(6 * 7)"], stdout=subprocess.PIPE)
out, _ = p.communicate(timeout=2)
if out.strip() == b"42":
    print(f"ESCAPED: subprocess.Popen started {sys.executable} as pid {p.pid}")
else:
    raise OSError(f"child gave unexpected output {out!r} (exit {p.returncode})")
