# attempts: UDP DNS query for example.com to 8.8.8.8, 1.1.1.1 and the host resolver 127.0.0.53; wait for a reply
# category: net
import socket

query = bytes.fromhex("abcd01000001000000000000") + b"\x07example\x03com\x00\x00\x01\x00\x01"
errors, hit = [], None
for server in ("8.8.8.8", "1.1.1.1", "127.0.0.53", "127.0.0.1"):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.7)
        s.sendto(query, (server, 53))
        data, _ = s.recvfrom(512)  # a send alone proves nothing; a reply does
    except OSError as e:
        errors.append(e)
        continue
    if data[:2] == b"\xab\xcd":
        hit = server
        break
if hit:
    print(f"ESCAPED: got a UDP DNS reply from {hit}")
else:
    raise errors[-1] if errors else OSError("replies did not match the query")
