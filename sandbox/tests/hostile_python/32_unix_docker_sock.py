# attempts: AF_UNIX connect to docker/containerd/podman/dbus/systemd/X11 sockets under /run, /var/run, /tmp
# category: net
import glob
import socket

paths = ["/run/docker.sock", "/var/run/docker.sock", "/run/containerd/containerd.sock",
         "/run/podman/podman.sock", "/run/dbus/system_bus_socket", "/var/run/dbus/system_bus_socket",
         "/run/systemd/private", "/run/systemd/journal/socket", "/run/user/0/bus", "/tmp/.X11-unix/X0",
         "/var/run/nvidia-persistenced/socket"]
paths += glob.glob("/run/*.sock") + glob.glob("/var/run/*/*.sock") + glob.glob("/run/user/*/*")
errors, hit = [], None
for p in paths:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(0.5)
        s.connect(p)
    except OSError as e:
        errors.append(e)
        continue
    hit = p
    s.close()
    break
if hit:
    print(f"ESCAPED: connected to host unix socket {hit}")
else:
    raise errors[-1]
