# attempts: create files outside scratch via '..' traversal (/tmp/../etc, ../../../etc, /tmp/../root, relative ../ to /)
# category: fs
import os

capped = {os.stat(".").st_dev}
if os.path.isdir("/tmp"):
    capped.add(os.stat("/tmp").st_dev)
errors, written = [], []
for p in ("/tmp/../etc/trutheye_escape", "../../../../../../../../etc/trutheye_escape",
          "/tmp/../root/trutheye_escape", "/tmp/./../usr/trutheye_escape",
          "../../../../../../../../trutheye_escape"):
    try:
        with open(p, "w") as f:
            f.write("written from inside the jail\n")
    except OSError as e:
        errors.append(e)
        continue
    real = os.path.realpath(p)
    inside = os.stat(os.path.dirname(real)).st_dev in capped
    os.unlink(p)
    if not inside:  # landing in the capped scratch/tmp is not an escape
        written.append(real)
if written:
    print("ESCAPED: created files outside scratch: " + ", ".join(written))
else:
    raise errors[-1] if errors else PermissionError("every '..' path resolved inside scratch/tmp")
