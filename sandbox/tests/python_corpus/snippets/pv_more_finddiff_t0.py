import matplotlib.pyplot as plt
import numpy as np

# The input image is already loaded as image_clue_0
img = image_clue_0

# Convert the image to numpy array for processing
img_np = np.array(img)

# Image dimensions
h, w, c = img_np.shape

# Split the image into left and right halves
left_img = img_np[:, :w//2, :]
right_img = img_np[:, w//2:, :]

# Show the two images side by side
fig, axs = plt.subplots(1, 2, figsize=(12, 6))
axs[0].imshow(left_img)
axs[0].set_title('Left Image')
axs[0].axis('off')
axs[1].imshow(right_img)
axs[1].set_title('Right Image')
axs[1].axis('off')
plt.show()

# Compute the absolute difference for highlighting
diff = np.abs(left_img.astype(int) - right_img.astype(int)).astype(np.uint8)

# Show the difference image
plt.figure(figsize=(6, 6))
plt.imshow(diff)
plt.title('Absolute Difference')
plt.axis('off')
plt.show()
