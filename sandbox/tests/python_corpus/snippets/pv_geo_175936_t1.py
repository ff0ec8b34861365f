import numpy as np

# Convert to grayscale
gray_image = np.array(image_clue_0.convert('L'))

plt.figure(figsize=(8, 8))
plt.imshow(gray_image, cmap='gray')
plt.title("Grayscale Image")
plt.axis('off')
plt.show()
