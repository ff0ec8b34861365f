import numpy as np
import matplotlib.pyplot as plt

# Convert image to numpy array
img = np.array(image_clue_0)

# Display the image to choose the orange color range
plt.imshow(img)
plt.show()

# Print out the shape and a few pixel values to help pick the orange color range
print("Image shape:", img.shape)
print("Sample pixel values (center and around):")
h, w = img.shape[:2]
print("Left center:", img[h//2, w//4])
print("Right center:", img[h//2, 3*w//4])
