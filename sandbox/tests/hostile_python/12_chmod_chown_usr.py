# attempts: chmod/chown system and Python files (to their current values, so nothing changes) to test the read-only mount
# category: fs
import os
import sys

errors, won = [], []
for p in ("/usr/bin", "/usr/lib", os.path.realpath(sys.executable), os.__file__, "/bin"):
    try:
        st = os.stat(p)
        os.chmod(p, st.st_mode & 0o7777)  # a real attacker would chmod 4777
        os.chown(p, st.st_uid, st.st_gid)
    except OSError as e:
        errors.append(e)
        continue
    won.append(p)
if won:
    print("ESCAPED: chmod/chown succeeded on " + ", ".join(won))
else:
    raise errors[-1]
