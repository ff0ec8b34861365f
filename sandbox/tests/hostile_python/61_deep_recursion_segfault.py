# attempts: sys.setrecursionlimit(10**9) then a C-level recursion (repr of a 10**6-deep nested list) to overflow the C stack
# category: memory
import sys

sys.setrecursionlimit(10**9)
nested = []
for _ in range(10**6):
    nested = [nested]
repr(nested)  # list_repr recurses in C; in 3.11 only the (raised) recursion limit guards it -> SIGSEGV
raise RecursionError("interpreter survived a 10**6-deep C recursion")
