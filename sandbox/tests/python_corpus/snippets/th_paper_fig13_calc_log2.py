import math
# Calculate y = log2(15/11)
y_val = math.log2(15/11)
print(y_val)
