# attempts: read /proc/self/environ, /proc/1/environ, /proc/1/cmdline, /proc/PPID/{environ,cmdline} looking for host secrets/paths
# category: proc
import os
import re

secret = re.compile(rb"(?:^|\0)(?:CARGO_|RUSTUP_|RUST_|SSH_AUTH_SOCK|AWS_|GITHUB_|GH_TOKEN|HF_TOKEN|OPENAI_|ANTHROPIC_)"
                    rb"|[A-Z_]*(?:SECRET|TOKEN|PASSWORD|API_KEY)[A-Z_]*=|TRUTHEYE-CANARY|=/work/main")
errors, leaks = [], []
ppid = os.getppid()
for p in ("/proc/self/environ", "/proc/1/environ", "/proc/1/cmdline", f"/proc/{ppid}/environ", f"/proc/{ppid}/cmdline"):
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError as e:
        errors.append(e)
        continue
    m = secret.search(data)
    if m:
        name = m.group(0).strip(b"\0=").decode(errors="replace")
        leaks.append(f"{p}: {name}")
if leaks:
    print("ESCAPED: host environment visible: " + "; ".join(leaks))  # variable names only, never values
else:
    raise errors[-1] if errors else PermissionError("environ/cmdline readable but hold no host secrets or paths")
