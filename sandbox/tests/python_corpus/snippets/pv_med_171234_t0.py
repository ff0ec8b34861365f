import matplotlib.pyplot as plt
import numpy as np

# Convert image to numpy array for analysis
img = np.array(image_clue_0)

# Show the image with enhanced contrast to help spot anatomical landmarks
plt.figure(figsize=(5,5))
plt.imshow(img, cmap='gray')
plt.title("Original Retinal Image")
plt.axis('off')
plt.show()

# Enhance contrast by stretching intensity
img_min = img.min()
img_max = img.max()
img_enhanced = (img - img_min) / (img_max - img_min) * 255
img_enhanced = img_enhanced.astype(np.uint8)

plt.figure(figsize=(5,5))
plt.imshow(img_enhanced, cmap='gray')
plt.title("Enhanced Contrast Retinal Image")
plt.axis('off')
plt.show()
