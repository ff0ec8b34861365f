import matplotlib.pyplot as plt
import numpy as np

# Show the original image
plt.figure(figsize=(8, 8))
plt.imshow(image_clue_0)
plt.title("Original Fundus Image")
plt.axis('off')
plt.show()

# Increase contrast for better visualization
from PIL import ImageEnhance

enhancer = ImageEnhance.Contrast(image_clue_0)
image_contrast = enhancer.enhance(2.0)  # 2x contrast

plt.figure(figsize=(8, 8))
plt.imshow(image_contrast)
plt.title("Contrast Enhanced Fundus Image")
plt.axis('off')
plt.show()
