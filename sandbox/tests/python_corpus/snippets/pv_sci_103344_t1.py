# Let's re-calculate D's coordinates for general a and b
from sympy import symbols, solve, Eq

a, b = symbols('a b', real=True, positive=True)

# Midpoint M
M_x = b/2
M_y = a/2

# Equation of perpendicular bisector: y - M_y = (b/a)*(x - M_x)
# Intersection with BC (y=0):
# 0 - a/2 = (b/a)*(x - b/2)
# (b/a)*(x - b/2) = -a/2
# x - b/2 = -a^2/(2b)
# x = b/2 - a**2/(2*b)

D_x = M_x - a**2/(2*b)
D_y = 0

print(f"D coordinates in terms of a and b: ({D_x}, {D_y})")

# Let's also get the angle DAC using vectors
# DA = A - D
# AC = C - A

# Vector DA = (0 - D_x, a - 0) = (-D_x, a)
# Vector AC = (0 - 0, 0 - a) = (0, -a)
# Use dot product to find angle between DA and AC

from sympy import sqrt, acos, deg

DAx = -D_x
DAy = a
ACx = 0
ACy = -a

dot_product = DAx*ACx + DAy*ACy
DA_length = sqrt(DAx**2 + DAy**2)
AC_length = sqrt(ACx**2 + ACy**2)

cos_theta = dot_product/(DA_length*AC_length)
theta = acos(cos_theta)
theta_deg = deg(theta)

print("Symbolic angle DAC (deg):", theta_deg)
