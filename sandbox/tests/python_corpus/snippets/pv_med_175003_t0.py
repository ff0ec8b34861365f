import matplotlib.pyplot as plt
import numpy as np

# Display the original image and zoom into the lesion area
fig, ax = plt.subplots(1, 2, figsize=(12, 6))

# Show the original image
ax[0].imshow(image_clue_0)
ax[0].set_title('Original Image')
ax[0].axis('off')

# Approximate coordinates for zoom-in (centered on lesion)
# From visual, lesion center is roughly at (1500, 900)
center_x, center_y = 1500, 900
zoom_size = 400  # pixels

zoomed_img = image_clue_0.crop((
    center_x - zoom_size//2,
    center_y - zoom_size//2,
    center_x + zoom_size//2,
    center_y + zoom_size//2
))

ax[1].imshow(zoomed_img)
ax[1].set_title('Zoomed-in Lesion')
ax[1].axis('off')

plt.show()
