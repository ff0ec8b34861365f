import matplotlib.pyplot as plt
import numpy as np

# Display the original image
plt.figure(figsize=(6, 8))
plt.imshow(image_clue_0, cmap='gray')
plt.title("Original X-ray")
plt.axis('off')
plt.show()

# Enhance contrast by stretching intensity values
img_array = np.array(image_clue_0)
p2, p98 = np.percentile(img_array, (2, 98))
img_rescale = np.clip((img_array - p2) * 255.0 / (p98 - p2), 0, 255).astype(np.uint8)

plt.figure(figsize=(6, 8))
plt.imshow(img_rescale, cmap='gray')
plt.title("Contrast Enhanced X-ray")
plt.axis('off')
plt.show()

# Zoom in on the joint area (central region)
h, w = img_array.shape
zoomed = img_rescale[h//4:3*h//4, w//4:3*w//4]

plt.figure(figsize=(6, 6))
plt.imshow(zoomed, cmap='gray')
plt.title("Zoomed In (Joint Area)")
plt.axis('off')
plt.show()
