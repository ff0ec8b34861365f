# attempts: subprocess.run(['/bin/sh', '-c', ...]) and capture its output
# category: exec
import subprocess

r = subprocess.run(["/bin/sh", "-c", "echo pwned-$((6*7))"], capture_output=True, text=True, timeout=2)
if "pwned-42" in r.stdout:
    print(f"ESCAPED: subprocess.run executed /bin/sh: {r.stdout.strip()}")
else:
    raise OSError(f"shell ran but produced no output: {r!r}")
