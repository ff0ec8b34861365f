# attempts: multiprocessing.Process (fork context) with a Pipe back to the parent
# category: exec
import multiprocessing


def child(conn):
    import os
    conn.send(os.getpid())
    conn.close()


ctx = multiprocessing.get_context("fork")
parent_end, child_end = ctx.Pipe(duplex=False)  # os.pipe, not socketpair: isolate the fork itself
proc = ctx.Process(target=child, args=(child_end,))
proc.start()  # fork(); fails with PermissionError/OSError under seccomp
if not parent_end.poll(2):
    raise TimeoutError(f"child never reported back (exitcode {proc.exitcode})")
print(f"ESCAPED: multiprocessing started child pid {parent_end.recv()}")
proc.join()
