import numpy as np
import matplotlib.pyplot as plt

# Convert image to numpy array
img = np.array(image_clue_0)

# Show the image to confirm loading
plt.imshow(img)
plt.title("Original Image")
plt.show()

# Print shape and dtype
print("Image shape:", img.shape)
print("Unique colors (sample):", np.unique(img.reshape(-1, img.shape[2]), axis=0)[:5])
