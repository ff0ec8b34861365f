# attempts: classic fork bomb (while True: os.fork()); the original process reports and exits after 30 forks
# category: exec
import os

orig = os.getpid()
n = 0
while True:
    os.fork()  # first failure (seccomp EPERM / RLIMIT_NPROC EAGAIN) propagates
    if os.getpid() == orig:
        n += 1
        if n == 1:
            print("ESCAPED: os.fork() succeeded; fork bomb is running", flush=True)
        if n >= 30:
            break  # children keep forking until the jail reaps them
