# attempts: ignore/block SIGTERM, SIGINT, SIGHUP, SIGXCPU, SIGALRM etc., cancel alarms, then burn CPU for 30 s
# category: signal
import signal
import time

for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU, signal.SIGALRM, signal.SIGVTALRM,
          signal.SIGPROF, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGQUIT):
    signal.signal(s, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())  # the kernel silently keeps SIGKILL/SIGSTOP
signal.alarm(0)
signal.setitimer(signal.ITIMER_REAL, 0)
start = time.monotonic()
while time.monotonic() - start < 30:
    pass
print("ESCAPED: survived 30 s of CPU burn while ignoring SIGTERM/SIGXCPU/SIGALRM (only SIGKILL works)")
