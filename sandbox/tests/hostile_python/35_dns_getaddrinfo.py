# attempts: resolve public names with socket.getaddrinfo (resolver / nsswitch / DNS over the network)
# category: net
import socket

errors, hit = [], None
for name in ("example.com", "pypi.org", "github.com"):
    try:
        infos = socket.getaddrinfo(name, 443, proto=socket.IPPROTO_TCP)
    except OSError as e:  # socket.gaierror
        errors.append(e)
        continue
    addrs = {i[4][0] for i in infos}
    if any(not a.startswith(("127.", "::1")) for a in addrs):
        hit = (name, sorted(addrs))
        break
if hit:
    print(f"ESCAPED: resolved {hit[0]} -> {hit[1]}")
else:
    raise errors[-1] if errors else OSError("names resolved only to loopback")
