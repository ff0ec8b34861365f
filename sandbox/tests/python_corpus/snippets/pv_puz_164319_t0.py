import matplotlib.pyplot as plt
import numpy as np

# Display the image
plt.imshow(image_clue_0)
plt.title("Original Image")
plt.axis('off')
plt.show()

# Convert to numpy array and print shape and a sample of pixel values
img_np = np.array(image_clue_0)
print("Image shape:", img_np.shape)
print("Sample pixel [center]:", img_np[img_np.shape[0]//2, img_np.shape[1]//2])
