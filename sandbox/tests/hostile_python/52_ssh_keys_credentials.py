# attempts: read ssh keys and credential files: /root/.ssh, /home/*/.ssh, $HOME, .aws, .netrc, .git-credentials, .docker, .cargo
# category: proc
import glob
import os

homes = {"/root", os.environ.get("HOME", "/root"), "/proc/1/root/root"} | set(glob.glob("/home/*"))
errors, leaks = [], []
for h in sorted(homes):
    cands = glob.glob(os.path.join(h, ".ssh", "*")) + [os.path.join(h, n) for n in (
        ".ssh/id_rsa", ".ssh/id_ed25519", ".aws/credentials", ".netrc", ".git-credentials",
        ".docker/config.json", ".cargo/credentials.toml", ".config/gh/hosts.yml", ".pypirc")]
    for p in cands:
        try:
            with open(p, "rb") as f:
                n = len(f.read(4096))
        except OSError as e:
            errors.append(e)
            continue
        leaks.append(f"{p} ({n} bytes)")  # never print key material
if leaks:
    print("ESCAPED: credential files readable: " + ", ".join(leaks))
else:
    raise errors[-1]
