# attempts: create 2 million empty files in scratch (inodes/dentries are kernel memory the size cap does not see)
# category: resource
import os

os.makedirs("inodes", exist_ok=True)
n = 0
while n < 2_000_000:
    os.close(os.open(f"inodes/{n}", os.O_CREAT | os.O_WRONLY, 0o600))  # ENOSPC with an nr_inodes cap
    n += 1
print(f"ESCAPED: created {n} files (no inode cap and no timeout)")
