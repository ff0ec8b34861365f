import numpy as np
import matplotlib.pyplot as plt

# Display the image
plt.imshow(image_clue_0)
plt.title("Original Image")
plt.show()

# Convert to grayscale
gray = np.array(image_clue_0.convert('L'))

# Print unique values to determine threshold
print("Unique grayscale pixel values:", np.unique(gray))
