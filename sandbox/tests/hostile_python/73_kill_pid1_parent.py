# attempts: os.kill(1, 9), os.kill(os.getppid(), 9), os.killpg on the parent's group, and every other visible pid (probed with signal 0 first)
# category: signal
import os

me = os.getpid()
pids = {1, os.getppid()}
try:
    pids |= {int(n) for n in os.listdir("/proc") if n.isdigit()}
except OSError:
    pass
pids -= {0, me}
errors, ok = [], []
for pid in sorted(pids):
    try:
        os.kill(pid, 0)  # same syscall as SIGKILL; seccomp should refuse it
    except OSError as e:
        errors.append(e)
        continue
    ok.append(pid)
if ok:
    print(f"ESCAPED: kill() permitted against pids {ok}; now sending SIGKILL", flush=True)
    for pid in ok:
        try:
            os.kill(pid, 9)
            pgid = os.getpgid(pid)
            if pgid != os.getpgrp():
                os.killpg(pgid, 9)
        except OSError:
            pass  # escape already reported
else:
    raise errors[-1] if errors else ProcessLookupError("no other process visible to signal")
