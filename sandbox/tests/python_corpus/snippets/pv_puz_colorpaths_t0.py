import matplotlib.pyplot as plt
import numpy as np

# Show the full image first
plt.figure(figsize=(8, 8))
plt.imshow(image_clue_0)
plt.title("Full Image")
plt.show()

# Now zoom in on C (bottom center)
width, height = image_clue_0.size
c_x, c_y = width // 2, int(height * 0.93)  # Approximate center-bottom
a_x, a_y = width // 2, int(height * 0.07)  # Approximate center-top

# Define a box around C and A
box_size = 120

# Crop around C
crop_c = image_clue_0.crop((c_x - box_size, c_y - box_size, c_x + box_size, c_y + box_size))
plt.figure(figsize=(4, 4))
plt.imshow(crop_c)
plt.title("Zoom on C")
plt.show()

# Crop around A
crop_a = image_clue_0.crop((a_x - box_size, a_y - box_size, a_x + box_size, a_y + box_size))
plt.figure(figsize=(4, 4))
plt.imshow(crop_a)
plt.title("Zoom on A")
plt.show()
