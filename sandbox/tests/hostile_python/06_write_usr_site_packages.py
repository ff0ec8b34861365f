# attempts: plant files in /usr/lib, /lib, /bin, site-packages, the stdlib dir; open os.py for append
# category: fs
import os
import sys
import sysconfig

paths = sysconfig.get_paths()
dirs = ["/usr/lib", "/usr/local/lib", "/lib", "/bin", "/usr/bin", paths["purelib"],
        paths["platlib"], paths["stdlib"], os.path.dirname(sys.executable)]
errors, written = [], []
try:
    open(os.__file__, "ab").close()  # append mode, zero bytes: proves writability only
    written.append(os.__file__ + " (opened for append)")
except OSError as e:
    errors.append(e)
for d in dirs:
    p = os.path.join(d, "trutheye_escape.pth")
    try:
        with open(p, "w") as f:
            f.write("# trutheye jail probe (a real attacker would put an import line here)\n")
    except OSError as e:
        errors.append(e)
        continue
    written.append(p)
    os.unlink(p)
if written:
    print("ESCAPED: wrote into the read-only system/Python tree: " + ", ".join(written))
else:
    raise errors[-1]
