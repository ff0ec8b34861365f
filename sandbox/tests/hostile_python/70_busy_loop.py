# attempts: while True: pass (pure CPU burn; stopped by RLIMIT_CPU or the wall-clock timeout)
# category: time
# No exception is possible here: the contained outcome is SIGXCPU/SIGKILL or the timeout kill.
while True:
    pass
