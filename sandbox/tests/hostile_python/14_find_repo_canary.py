# attempts: walk /work, /home, /root, /srv, /opt, /proc/1/cwd, /proc/1/root/*, cwd ancestors looking for CANARY / canary.txt
# category: fs
import os
import time

roots = ["/tmp/trutheye-canary", "/work", "/home", "/root", "/srv", "/opt", "/mnt", "/proc/1/cwd",
         "/proc/1/root/work", "/proc/1/root/home", "/proc/1/root/root", os.environ.get("HOME", "/root")]
d = os.path.dirname(os.getcwd())
while d != "/":
    roots.append(d)
    d = os.path.dirname(d)
errors, found = [], None
deadline = time.monotonic() + 2.0
for r in roots:
    for dp, dns, fns in os.walk(r, onerror=errors.append):
        if dp.count("/") - r.count("/") >= 6 or time.monotonic() > deadline:
            dns[:] = []
        dns[:] = [x for x in dns if x not in ("proc", "sys", "usr", "lib", "dev", ".git", "target", ".pyenv")]
        for fn in fns:
            if fn in ("CANARY", "canary.txt") and found is None:
                try:
                    with open(os.path.join(dp, fn), errors="replace") as f:
                        if "TRUTHEYE-CANARY" in f.read(4096):
                            found = os.path.join(dp, fn)
                except OSError as e:
                    errors.append(e)
if found:
    print(f"ESCAPED: found and read the canary at {found}")
else:
    raise errors[-1] if errors else FileNotFoundError("no canary reachable from any guessed root")
