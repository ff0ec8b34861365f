# attempts: time.sleep(1000): hold the action slot without using CPU (only a wall-clock timeout stops it)
# category: time
import time

time.sleep(1000)
print("ESCAPED: slept 1000 s without being killed by the wall-clock timeout")
