# attempts: setuid(0)/setgid(0)/setgroups([0]); report any effective capabilities left in /proc/self/status
# category: escape
import os

errors, won = [], []
uid, gid = os.getuid(), os.getgid()
for what, fn, already in (("setuid(0)", os.setuid, uid == 0), ("setgid(0)", os.setgid, gid == 0)):
    try:
        fn(0)
        if not already:
            won.append(what)
    except OSError as e:
        errors.append(e)
try:
    os.setgroups([0])
    won.append("setgroups([0])")
except OSError as e:
    errors.append(e)
with open("/proc/self/status") as f:
    caps = dict(line.split(":\t", 1) for line in f.read().splitlines() if line.startswith("Cap"))
if int(caps.get("CapEff", "0").strip(), 16):
    won.append(f"CapEff={caps['CapEff'].strip()}")
if won:
    print("ESCAPED: privilege available inside the jail: " + ", ".join(won))
else:
    raise errors[-1] if errors else PermissionError("no privilege gained")
