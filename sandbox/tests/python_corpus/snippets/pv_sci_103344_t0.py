import matplotlib.pyplot as plt
import numpy as np

# Let's assume C at (0,0), B at (b,0), A at (0,a)
# Since triangle is right at C

a = 1  # arbitrary unit
b = 1  # arbitrary unit

C = np.array([0, 0])
B = np.array([b, 0])
A = np.array([0, a])

# Midpoint of AB
M = (A + B) / 2

# Slope of AB: (a-0)/(0-b) = -a/b
# Perpendicular bisector: slope is b/a

# Equation of perpendicular bisector: y - M_y = (b/a)*(x - M_x)
# It meets BC at point D.

# Equation of BC: from B to C, y = 0, x from 0 to b
# Set y=0 in the perpendicular bisector equation to get D:
# 0 - M[1] = (b/a)*(x - M[0])
# x = M[0] - (a/b)*M[1]

M_x, M_y = M
D_x = M_x - (a/b)*M_y
D = np.array([D_x, 0])

# Let's plot everything
plt.figure(figsize=(6, 6))
plt.plot([A[0], B[0], C[0], A[0]], [A[1], B[1], C[1], A[1]], 'bo-')
plt.text(A[0], A[1]+0.05, 'A', fontsize=12)
plt.text(B[0]+0.05, B[1], 'B', fontsize=12)
plt.text(C[0]-0.07, C[1]-0.05, 'C', fontsize=12)

# Mark midpoint M
plt.plot(M[0], M[1], 'ro')
plt.text(M[0]+0.02, M[1]+0.02, 'M', fontsize=12)

# Draw perpendicular bisector
x_vals = np.linspace(-0.2, 1.2, 100)
y_vals = M_y + (b/a)*(x_vals - M_x)
plt.plot(x_vals, y_vals, 'g--', label='Perpendicular bisector of AB')

# Mark D
plt.plot(D[0], D[1], 'go')
plt.text(D[0]+0.02, D[1]-0.05, 'D', fontsize=12)

plt.axis('equal')
plt.xlim(-0.2,1.2)
plt.ylim(-0.2,1.2)
plt.legend()
plt.grid(True)
plt.show()
