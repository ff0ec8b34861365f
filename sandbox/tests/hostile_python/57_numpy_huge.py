# attempts: np.zeros((100000, 100000)) = 80 GB of float64, then touch every page with fill()
# category: memory
import numpy as np

a = np.zeros((100000, 100000))  # MemoryError under RLIMIT_AS (calloc may otherwise succeed lazily)
a.fill(1.0)  # touch all pages: OOM kill or wall-clock kill if the allocation slipped through
print(f"ESCAPED: allocated and touched {a.nbytes / 2**30:.0f} GiB with numpy")
