# attempts: start 20000 non-daemon threads that sleep 1000 s, then join them
# category: resource
import threading
import time

threads = []
for _ in range(20000):
    t = threading.Thread(target=time.sleep, args=(1000,))
    t.start()  # RuntimeError "can't start new thread" under RLIMIT_AS / RLIMIT_NPROC / pids cap
    threads.append(t)
print(f"started {len(threads)} sleeping threads; the wall-clock kill must reap them")
for t in threads:
    t.join()
print("ESCAPED: 20000 threads slept 1000 s without the jail killing them")
