import matplotlib.pyplot as plt
import numpy as np

# Convert image to numpy array
img_array = np.array(image_clue_0)

# The green bar for "Support" is around the right side of the image.
# Let's sample a pixel from the right side of the first row of bars.

# Coordinates for the first green bar (estimated by visual inspection)
y = 60   # vertical position within first bar
x = 260  # horizontal position, in the green section

# Get RGB value at that pixel
green_rgb = img_array[y, x]
print(f"Sampled RGB value for green bar: {green_rgb}")

# Show the image for reference
plt.imshow(img_array)
plt.scatter([x], [y], c='red')  # Mark the sampled pixel
plt.show()
