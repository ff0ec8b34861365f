# attempts: 64 GiB anonymous MAP_SHARED mmap (shmem-backed, outside the malloc heap), touched in 16 MiB chunks
# category: memory
import mmap

m = mmap.mmap(-1, 64 << 30)  # ENOMEM (OSError) under RLIMIT_AS
chunk = b"\x01" * (16 << 20)
for _ in range(len(m) // len(chunk)):
    m.write(chunk)
print("ESCAPED: touched 64 GiB of shared anonymous memory")
