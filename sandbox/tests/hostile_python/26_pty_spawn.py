# attempts: __import__('pty').spawn of /bin/sh (forkpty + exec)
# category: exec
status = __import__("pty").spawn(["/bin/sh", "-c", "echo pty-shell-ran"])
if status == 0:
    print("ESCAPED: pty.spawn ran /bin/sh on a pseudo-terminal")
else:
    raise OSError(f"pty.spawn child failed with wait status {status}")
