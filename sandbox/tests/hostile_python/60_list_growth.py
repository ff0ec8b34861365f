# attempts: grow a list of 10 MB zero-filled buffers forever (gradual memory exhaustion)
# category: memory
hog = []
while True:
    hog.append(bytearray(10**7))  # ends in MemoryError (RLIMIT_AS), OOM kill or wall-clock kill
