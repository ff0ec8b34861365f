import matplotlib.pyplot as plt
import numpy as np

# Convert to grayscale
image = image_clue_0
gray = np.array(image.convert('L'))

plt.figure(figsize=(6,6))
plt.imshow(gray, cmap='gray')
plt.title('Grayscale Image')
plt.axis('off')
plt.show()
