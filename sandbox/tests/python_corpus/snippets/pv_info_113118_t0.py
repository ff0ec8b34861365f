import numpy as np
import matplotlib.pyplot as plt

# Convert image to numpy array
img_np = np.array(image_clue_0)

# Let's focus on the region where bars are likely (from visual inspection, ~left 1/2 of image)
# We'll sum colors along width to get a 1D vertical profile
bar_area = img_np[:, :int(img_np.shape[1]*0.7), :]

# Convert to grayscale for easier detection
gray = np.mean(bar_area, axis=2)
# For each row, compute mean intensity (low values = colored bars)
row_means = gray.mean(axis=1)

# Plot to visualize
plt.figure(figsize=(10,3))
plt.plot(row_means)
plt.title("Mean intensity per row (low = colored bar)")
plt.xlabel("Row")
plt.ylabel("Mean grayscale intensity")
plt.show()

# Let's threshold to find low-intensity (bar) regions
threshold = np.percentile(row_means, 20)  # bottom 20% as possible bars
bar_rows = row_means < threshold

# Find contiguous regions (bars)
from scipy.ndimage import label

labeled, num_bars = label(bar_rows)

print("Estimated number of bars:", num_bars)
