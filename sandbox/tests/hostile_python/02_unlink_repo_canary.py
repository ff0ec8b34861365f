# attempts: unlink the repository CANARY by guessing host repo paths (cwd parents, $HOME, /root, /work, /home, /proc/1/cwd)
# category: fs
import glob
import os

rel = "sandbox/tests/hostile_python/CANARY"
cands = ["/work/main/" + rel, "/proc/1/cwd/" + rel, "/proc/self/cwd/" + rel,
         "/proc/1/root/work/main/" + rel, "/proc/1/cwd/CANARY"]
d = os.getcwd()
while d != "/":
    cands += [os.path.join(d, rel), os.path.join(d, "CANARY")]
    d = os.path.dirname(d)
for base in (os.environ.get("HOME", "/root"), "/root", "/work", "/home"):
    for pattern in (rel, "*/" + rel, "*/*/" + rel):
        cands += glob.glob(os.path.join(base, pattern))
errors, done = [], None
for p in cands:
    try:
        with open(p) as f:
            if "TRUTHEYE-CANARY" not in f.read():
                continue
        os.unlink(p)
    except OSError as e:
        errors.append(e)
        continue
    done = p
    break
if done:
    print(f"ESCAPED: unlinked the repository canary {done}")
else:
    raise errors[-1] if errors else FileNotFoundError("no repository CANARY reachable")
