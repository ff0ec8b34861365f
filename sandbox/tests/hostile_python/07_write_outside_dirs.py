# attempts: create a file in /, /etc, /root, /home, /opt, /var/tmp, /run, /work, $HOME (anything outside capped scratch/tmp)
# category: fs
import os

capped = {os.stat(".").st_dev}
if os.path.isdir("/tmp"):
    capped.add(os.stat("/tmp").st_dev)
dirs = ["/", "/etc", "/root", "/home", "/opt", "/srv", "/mnt", "/var/tmp", "/var/lock",
        "/run", "/run/user", "/work", os.path.expanduser("~")]
errors, written = [], []
for d in dirs:
    p = os.path.join(d, "trutheye_escape")
    try:
        if os.stat(d).st_dev in capped:
            continue  # same filesystem as the capped scratch/tmp: allowed
        fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    except OSError as e:
        errors.append(e)
        continue
    os.close(fd)
    os.unlink(p)
    written.append(d)
if written:
    print("ESCAPED: writable locations outside the capped scratch: " + ", ".join(written))
else:
    raise errors[-1] if errors else PermissionError("no directory outside scratch/tmp exists")
