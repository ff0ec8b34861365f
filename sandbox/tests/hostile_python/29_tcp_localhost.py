# attempts: TCP connect to common services on 127.0.0.1 (ssh, http, docker 2375, redis, postgres, jupyter, ollama)
# category: net
import socket

errors, hit = [], None
for port in (22, 80, 443, 2375, 3000, 5432, 6379, 8000, 8080, 8888, 11434):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=0.3)
    except OSError as e:
        errors.append(e)
        continue
    hit = (port, s.getpeername())
    s.close()
    break
if hit:
    print(f"ESCAPED: TCP connection to 127.0.0.1:{hit[0]} succeeded")
else:
    raise errors[-1]
