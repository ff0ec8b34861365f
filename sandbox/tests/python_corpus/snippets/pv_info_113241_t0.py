import numpy as np
import matplotlib.pyplot as plt

# Load image
img = image_clue_0

# Convert image to numpy array
img_np = np.array(img)

# Display the image to identify the region of bars (visual inspection)
plt.imshow(img_np)
plt.title('Original Image')
plt.show()

# The bar chart area is visually from about y=120 to y=400, and x=120 to x=800 (excluding labels and axes)
bar_area = img_np[120:400, 120:800, :]

# Show the cropped bar area
plt.imshow(bar_area)
plt.title('Bar Area')
plt.show()

# Convert to grayscale to simplify
bar_area_gray = np.mean(bar_area, axis=2)

# Threshold to highlight bars (bars are colored, background is white)
threshold = 230  # empirically chosen; white is near 255
bars_binary = bar_area_gray < threshold

# Show the binary bar area
plt.imshow(bars_binary, cmap='gray')
plt.title('Binary Bar Area')
plt.show()

# Sum along x-axis to get bar presence along y-axis
bar_presence = np.sum(bars_binary, axis=1)
# Normalize and threshold to detect where bars are present
bar_presence_bin = bar_presence > (bars_binary.shape[1] * 0.1)  # at least 10% non-white to be a bar

# Plot bar presence
plt.plot(bar_presence_bin)
plt.title('Bar Presence Along Y-axis')
plt.xlabel('Y position')
plt.ylabel('Bar presence (binary)')
plt.show()

# Count contiguous regions where bar_presence_bin is True
from scipy.ndimage import label

labeled, num_bars = label(bar_presence_bin)
print(f"Number of bars detected: {num_bars}")
