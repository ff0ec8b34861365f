# Given values
m = 2.00  # kg
g = 9.8   # m/s^2
mu = 0.006  # kg/m

# Tension
T = m * g

# Wave velocity
v = (T / mu) ** 0.5
print("Tension (T):", T)
print("Wave velocity (v):", v)
