# attempts: set the host wall clock with clock_settime(CLOCK_REALTIME) (to the current time, so nothing moves)
# category: time
import time

time.clock_settime(time.CLOCK_REALTIME, time.time())  # PermissionError without CAP_SYS_TIME in the initial userns
print("ESCAPED: clock_settime(CLOCK_REALTIME) accepted; the host clock can be changed")
