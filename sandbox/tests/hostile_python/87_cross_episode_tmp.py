# attempts: read other episodes' scratch dirs (/tmp/episode-*) on the shared jail tmpfs and leave a file for later episodes
# category: fs
import os

me = os.getcwd()
errors, found = [], []
for entry in os.listdir("/tmp"):
    d = os.path.join("/tmp", entry)
    if d == me:
        continue
    if entry == "trutheye-cross-episode":
        found.append(f"marker planted by an earlier episode ({d})")
    if entry.startswith("episode-") and os.path.isdir(d):  # the runtime's per-episode scratch dirs
        try:
            names = os.listdir(d)
            if names:
                with open(os.path.join(d, names[0]), "rb") as f:
                    found.append(f"read {len(f.read(4096))} bytes of {os.path.join(d, names[0])}")
        except OSError as e:
            errors.append(e)
with open("/tmp/trutheye-cross-episode", "w") as f:  # planted for the next episode of this jail
    f.write(f"planted by pid {os.getpid()}\n")
if found:
    print("ESCAPED: cross-episode data in /tmp: " + "; ".join(found))
else:
    raise errors[-1] if errors else PermissionError("no other episode's data visible under /tmp")
