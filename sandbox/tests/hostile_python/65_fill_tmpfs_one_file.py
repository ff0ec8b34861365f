# attempts: write one 4 GiB file in scratch (RLIMIT_FSIZE -> EFBIG, tmpfs size cap -> ENOSPC)
# category: resource
chunk = b"\xa5" * (16 << 20)
written = 0
with open("big.bin", "wb") as f:
    while written < (4 << 30):
        f.write(chunk)  # Python ignores SIGXFSZ, so an exceeded RLIMIT_FSIZE raises OSError(EFBIG)
        written += len(chunk)
print(f"ESCAPED: wrote a {written >> 30} GiB file (no file-size limit or tmpfs cap)")
