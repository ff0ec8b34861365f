import numpy as np
from skimage.color import rgb2gray
from skimage.filters import threshold_otsu
from skimage.measure import find_contours
from PIL import Image

# Convert to grayscale and numpy array
img = image_clue_0.convert('L')
img_np = np.array(img)

# Binarize image using Otsu's threshold
thresh = threshold_otsu(img_np)
binary = img_np < thresh  # Squares are black (low value)

# Find contours
contours = find_contours(binary, 0.8)
print(f"Number of contours found: {len(contours)}")

# Visualize contours
fig, ax = plt.subplots()
ax.imshow(binary, cmap=plt.cm.gray)

for contour in contours:
    ax.plot(contour[:, 1], contour[:, 0], linewidth=2)
plt.title('Detected Contours')
plt.axis('off')
plt.show()
