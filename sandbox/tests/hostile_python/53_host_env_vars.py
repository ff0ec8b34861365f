# attempts: look in os.environ for host secrets, cargo/rust variables, host paths, and a HOME that is the real host home
# category: proc
import os
import re

pat = re.compile(r"^(CARGO_|RUSTUP_|RUST_|SSH_|AWS_|GITHUB_|GH_|HF_|OPENAI|ANTHROPIC|GOOGLE_|AZURE_)"
                 r"|TOKEN|SECRET|PASSWORD|API_KEY|CREDENTIAL", re.I)
hits = []
for k, v in os.environ.items():
    if v and (pat.search(k) or v.startswith("/work/main") or "TRUTHEYE-CANARY" in v):
        hits.append(k)  # names only
home = os.environ.get("HOME", "")
if home and home not in ("/", "/tmp") and os.path.realpath(home) != os.getcwd() and os.path.isdir(home):
    extra = set(os.listdir(home)) - {".pyenv", ".cache"}  # the python install may legitimately live there
    if extra & {".ssh", ".bashrc", ".profile", ".cargo", ".rustup", ".gitconfig", ".bash_history", "work"}:
        hits.append(f"HOME={home} is the host home ({len(extra)} entries)")
if hits:
    print("ESCAPED: host environment leaked into the jail: " + ", ".join(hits))
else:
    raise PermissionError(f"contained: {len(os.environ)} environment variables, none from the host")
