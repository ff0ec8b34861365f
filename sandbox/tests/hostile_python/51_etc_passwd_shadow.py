# attempts: read /etc/shadow, /etc/gshadow, /etc/sudoers, /etc/passwd, /etc/group (directly and via /proc/1/root)
# category: proc
errors, leaks = [], []
for p in ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/passwd", "/etc/group", "/proc/1/root/etc/shadow"):
    try:
        with open(p, errors="replace") as f:
            data = f.read(65536)
    except OSError as e:
        errors.append(e)
        continue
    leaks.append(f"{p} ({len(data)} chars, {data.count(chr(10))} lines)")  # sizes only, no content in logs
if leaks:
    print("ESCAPED: host /etc files readable: " + ", ".join(leaks))
else:
    raise errors[-1]
