import matplotlib.pyplot as plt
import numpy as np

# Show the image at different zooms
fig, axs = plt.subplots(1, 2, figsize=(16, 8))
axs[0].imshow(image_clue_0)
axs[0].set_title('Full Image')

# Zoom into a central region to look for cars or other scale clues
center_crop = image_clue_0.crop((180, 180, 330, 330))
axs[1].imshow(center_crop)
axs[1].set_title('Zoomed Center (Look for Cars, Objects)')

plt.show()

# Print basic stats
img_arr = np.array(image_clue_0)
print("Shape:", img_arr.shape)
print("Min pixel value:", img_arr.min())
print("Max pixel value:", img_arr.max())

# Show histograms of each color channel
fig, axs = plt.subplots(1, 3, figsize=(15, 4))
colors = ['red', 'green', 'blue']
for i, color in enumerate(colors):
    axs[i].hist(img_arr[..., i].flatten(), bins=50, color=color)
    axs[i].set_title(f'{color.capitalize()} channel')
plt.show()
