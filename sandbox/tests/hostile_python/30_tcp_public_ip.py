# attempts: TCP connect to public addresses (1.1.1.1:443, 8.8.8.8:53, IPv6 2606:4700:4700::1111:443)
# category: net
import socket

errors, hit = [], None
for addr in (("1.1.1.1", 443), ("8.8.8.8", 53), ("2606:4700:4700::1111", 443)):
    try:
        s = socket.create_connection(addr, timeout=1)
    except OSError as e:
        errors.append(e)
        continue
    hit = addr
    s.close()
    break
if hit:
    print(f"ESCAPED: TCP connection to {hit[0]}:{hit[1]} succeeded (network reachable)")
else:
    raise errors[-1]
