# attempts: connect to abstract-namespace unix sockets (listed in /proc/net/unix, plus X11/systemd guesses)
# category: net
import socket

names = ["/tmp/.X11-unix/X0", "/org/freedesktop/systemd1/notify", "/containerd-shim"]
errors, hit = [], None
try:
    with open("/proc/net/unix") as f:
        for line in f.read().splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 8 and parts[7].startswith("@"):
                names.append(parts[7][1:])
except OSError as e:
    errors.append(e)
for name in names:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(0.5)
        s.connect("\0" + name)
    except OSError as e:
        errors.append(e)
        continue
    hit = name
    s.close()
    break
if hit:
    print(f"ESCAPED: connected to abstract unix socket @{hit}")
else:
    raise errors[-1]
