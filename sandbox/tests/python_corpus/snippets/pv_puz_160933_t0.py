import matplotlib.pyplot as plt
import numpy as np

# Display the image to examine the orange circles
plt.imshow(image_clue_0)
plt.title("Original Image")
plt.axis('off')
plt.show()

# Convert image to numpy array and print shape and a sample pixel value to check color
img_np = np.array(image_clue_0)
print("Image shape:", img_np.shape)
print("Sample pixel value (center):", img_np[img_np.shape[0]//2, img_np.shape[1]//2])
