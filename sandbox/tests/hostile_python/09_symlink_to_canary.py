# attempts: symlinks in scratch to /tmp/trutheye-canary, /proc/1/root, /proc/1/cwd, the host repo; read and write the canary through them
# category: fs
import os

links = {"ln_tmp": "/tmp/trutheye-canary", "ln_p1root": "/proc/1/root/tmp/trutheye-canary",
         "ln_selfroot": "/proc/self/root/tmp/trutheye-canary", "ln_p1cwd": "/proc/1/cwd",
         "ln_repo": "/work/main/sandbox/tests/hostile_python"}
errors, hits = [], []
for name, dest in links.items():
    if os.path.lexists(name):
        os.unlink(name)
    os.symlink(dest, name)  # creating the link itself is allowed in scratch
    for leaf in ("canary.txt", "CANARY", "sandbox/tests/hostile_python/CANARY"):
        p = os.path.join(name, leaf)
        try:
            with open(p) as f:
                if "TRUTHEYE-CANARY" not in f.read():
                    continue
            hits.append(f"read {p} -> {os.path.realpath(p)}")
            with open(p, "a") as f:
                f.write("tampered through a symlink\n")
            hits.append(f"wrote {p}")
        except OSError as e:
            errors.append(e)
if hits:
    print("ESCAPED: canary reached through symlinks: " + "; ".join(hits))
else:
    raise errors[-1]
