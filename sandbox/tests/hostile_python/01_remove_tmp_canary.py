# attempts: read and delete the host canary /tmp/trutheye-canary/canary.txt and its directory
# category: fs
import os
import shutil

path = "/tmp/trutheye-canary/canary.txt"
with open(path) as f:  # FileNotFoundError when /tmp is the jail's private tmpfs
    data = f.read()
if "TRUTHEYE-CANARY" not in data:
    raise FileNotFoundError(2, "a file is there but it is not the host canary", path)
os.remove(path)
shutil.rmtree(os.path.dirname(path))
print(f"ESCAPED: deleted host canary {path} (content {data.strip()[:40]!r})")
