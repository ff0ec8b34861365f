import matplotlib.pyplot as plt
import numpy as np

# Show the image for visual inspection
plt.imshow(image_clue_0)
plt.title("Remote Sensing Image")
plt.show()

# Convert to numpy array for processing
img_np = np.array(image_clue_0)
print("Image shape:", img_np.shape)
