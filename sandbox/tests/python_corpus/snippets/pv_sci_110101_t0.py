import matplotlib.pyplot as plt

# Original points
O = (0, 0)
A = (2, 0)
B = (2, 1)

# Dilation factor
k = 2

# Dilated points
A_prime = (A[0]*k, A[1]*k)
B_prime = (B[0]*k, B[1]*k)

# Plot
plt.figure(figsize=(6, 6))
plt.scatter(*O, color='black', label='O (0,0)')
plt.scatter(*A, color='blue', label='A (2,0)')
plt.scatter(*B, color='green', label='B (2,1)')
plt.scatter(*A_prime, color='cyan', label="A' (4,0)")
plt.scatter(*B_prime, color='lime', label="B' (4,2)")

# Draw lines OA, OB, OA', OB'
plt.plot([O[0], A[0]], [O[1], A[1]], 'b--')
plt.plot([O[0], B[0]], [O[1], B[1]], 'g--')
plt.plot([O[0], A_prime[0]], [O[1], A_prime[1]], 'c-')
plt.plot([O[0], B_prime[0]], [O[1], B_prime[1]], 'lime')

# Annotate points
plt.text(*O, " O", fontsize=12)
plt.text(*A, " A", fontsize=12)
plt.text(*B, " B", fontsize=12)
plt.text(*A_prime, " A'", fontsize=12)
plt.text(*B_prime, " B'", fontsize=12)

plt.xlim(-1, 6)
plt.ylim(-1, 4)
plt.gca().set_aspect('equal', adjustable='box')
plt.grid(True)
plt.legend()
plt.title("Dilation of Points A and B about the Origin")
plt.show()

print("B' coordinates:", B_prime)
