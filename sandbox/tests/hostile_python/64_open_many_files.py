# attempts: open 200000 descriptors on one scratch file (RLIMIT_NOFILE exhaustion)
# category: resource
import os

with open("fd_hog", "w"):
    pass
fds = []
while len(fds) < 200000:
    fds.append(os.open("fd_hog", os.O_RDONLY))  # OSError EMFILE at the RLIMIT_NOFILE soft limit
print(f"ESCAPED: opened {len(fds)} file descriptors (RLIMIT_NOFILE not enforced)")
