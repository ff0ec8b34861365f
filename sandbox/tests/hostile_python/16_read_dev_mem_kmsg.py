# attempts: open/read raw devices and kernel interfaces: /dev/mem, /dev/kmem, /dev/port, /dev/kmsg, /proc/kcore, disks, /dev/nvidia*, /dev/kvm
# category: fs
import os

errors, won = [], []
for p in ("/dev/mem", "/dev/kmem", "/dev/port", "/dev/kmsg", "/proc/kcore", "/dev/sda", "/dev/vda",
          "/dev/nvme0n1", "/dev/nvidia0", "/dev/nvidiactl", "/dev/dri/card0", "/dev/kvm", "/dev/fuse",
          "/dev/net/tun", "/dev/console", "/dev/tty1"):
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        errors.append(e)
        continue
    try:
        won.append(f"{p} (read {len(os.read(fd, 64))} bytes)")
    except OSError as e:
        won.append(f"{p} (opened; read failed: {e.strerror})")
    os.close(fd)
if won:
    print("ESCAPED: opened host devices: " + ", ".join(won))
else:
    raise errors[-1]
