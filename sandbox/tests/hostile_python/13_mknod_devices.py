# attempts: mknod raw device nodes in scratch (/dev/mem 1:1, /dev/sda 8:0, nvme 259:0) and read through them
# category: fs
import os
import stat

errors, won = [], []
for name, kind, dev in (("mem", stat.S_IFCHR, os.makedev(1, 1)), ("sda", stat.S_IFBLK, os.makedev(8, 0)),
                        ("nvme", stat.S_IFBLK, os.makedev(259, 0)), ("kmsg", stat.S_IFCHR, os.makedev(1, 11))):
    if os.path.lexists(name):
        os.unlink(name)
    try:
        os.mknod(name, kind | 0o600, dev)  # needs CAP_MKNOD in the initial user namespace
    except OSError as e:
        errors.append(e)
        continue
    won.append(f"mknod {name}")
    try:
        with open(name, "rb", buffering=0) as f:
            won.append(f"read {len(f.read(16))} bytes from {name}")
    except OSError as e:
        errors.append(e)
if won:
    print("ESCAPED: device nodes created: " + "; ".join(won))
else:
    raise errors[-1]
