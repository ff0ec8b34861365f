# Calculate the value of 'a'
a_value = 0.5 * 9
print(a_value)
