# attempts: flood stdout forever with 1 MB lines (host must cap captured output and kill on timeout)
# category: output
# Contained outcome: timeout kill, or BrokenPipeError if the host closes the pipe at its output cap.
while True:
    print("x" * 10**6)
