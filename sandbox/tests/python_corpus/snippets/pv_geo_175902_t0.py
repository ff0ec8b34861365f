import matplotlib.pyplot as plt
import numpy as np

# Show the image
plt.imshow(image_clue_0)
plt.title('Original Image')
plt.axis('off')
plt.show()

# Print some pixel values from the left (road) and right (water) for thresholding insight
img_np = np.array(image_clue_0)
print("Pixel value at (50,50) (likely road):", img_np[50, 50])
print("Pixel value at (400,400) (likely water):", img_np[400, 400])
