# attempts: bytearray(10**11): a single 100 GB zero-filled allocation
# category: memory
# bytearray(n) memsets the buffer, so every page is touched if the allocation is granted.
b = bytearray(10**11)  # MemoryError under RLIMIT_AS or overcommit
print(f"ESCAPED: allocated a {len(b) / 1e9:.0f} GB bytearray")
