import matplotlib.pyplot as plt
import numpy as np

# Original triangle vertices
A = (-1, 1)
B = (-1, 3)
C = (-3, -3)

# Translation value
m = 2.5

# Translated triangle vertices
A_p = (A[0] + m, A[1])
B_p = (B[0] + m, B[1])
C_p = (C[0] + m, C[1])

# Midpoints after translation
mid_AB = ((A_p[0] + B_p[0])/2, (A_p[1] + B_p[1])/2)
mid_BC = ((B_p[0] + C_p[0])/2, (B_p[1] + C_p[1])/2)
mid_CA = ((C_p[0] + A_p[0])/2, (C_p[1] + A_p[1])/2)

# Curve y = 3/x
x = np.linspace(-6, 6, 400)
x = x[x != 0]
y = 3/x

plt.figure(figsize=(6, 6))

# Plot original triangle
plt.plot([A[0], B[0], C[0], A[0]], [A[1], B[1], C[1], A[1]], 'b--', label='Original Triangle')

# Plot translated triangle
plt.plot([A_p[0], B_p[0], C_p[0], A_p[0]], [A_p[1], B_p[1], C_p[1], A_p[1]], 'g-', label='Translated Triangle')

# Plot midpoints
plt.scatter(*mid_AB, color='red', zorder=5, label='Midpoint AB\'')
plt.scatter(*mid_BC, color='orange', zorder=5, label='Midpoint B\'C\'')
plt.scatter(*mid_CA, color='purple', zorder=5, label='Midpoint C\'A\'')

# Plot curve
plt.plot(x, y, 'k-', label='y=3/x')

plt.xlim(-6, 6)
plt.ylim(-6, 6)
plt.axhline(0, color='gray', lw=0.5)
plt.axvline(0, color='gray', lw=0.5)
plt.legend()
plt.title("Verification of Midpoint on y=3/x")
plt.grid(True)
plt.show()

print("Midpoint AB':", mid_AB)
print("y at x=1.5:", 3/1.5)
