import matplotlib.pyplot as plt
import numpy as np

# Step 1: Visualize the original image
plt.figure(figsize=(6,6))
plt.imshow(image_clue_0)
plt.title('Original Image')
plt.axis('off')
plt.show()

# Step 2: Convert to grayscale for processing
gray_img = np.array(image_clue_0.convert('L'))

plt.figure(figsize=(6,6))
plt.imshow(gray_img, cmap='gray')
plt.title('Grayscale Image')
plt.axis('off')
plt.show()
