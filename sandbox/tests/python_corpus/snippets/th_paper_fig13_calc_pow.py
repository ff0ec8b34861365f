import math
# Calculate x = 2.75 / (3.00**0.45)
x_val = 2.75 / (3.00**0.45)
print(x_val)
