import numpy as np
from PIL import Image
from skimage import exposure, filters

# Convert to grayscale
gray = image_clue_0.convert('L')
gray_np = np.array(gray)

# Histogram equalization for contrast enhancement
eq_gray_np = exposure.equalize_hist(gray_np)

# Otsu's thresholding
thresh_val = filters.threshold_otsu(eq_gray_np)
binary_mask = eq_gray_np > thresh_val

# Visualize grayscale and binary mask
fig, axs = plt.subplots(1, 3, figsize=(15,5))
axs[0].imshow(gray_np, cmap='gray')
axs[0].set_title('Grayscale')
axs[0].axis('off')
axs[1].imshow(eq_gray_np, cmap='gray')
axs[1].set_title('Equalized Grayscale')
axs[1].axis('off')
axs[2].imshow(binary_mask, cmap='gray')
axs[2].set_title("Otsu's Thresholding Mask")
axs[2].axis('off')
plt.show()
