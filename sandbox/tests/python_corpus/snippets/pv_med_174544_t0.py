import matplotlib.pyplot as plt
import numpy as np

# Show the original image
plt.figure(figsize=(8, 8))
plt.imshow(image_clue_0, cmap='gray')
plt.title("Original Chest X-ray")
plt.axis('off')
plt.show()

# Enhance contrast
from PIL import ImageEnhance

enhancer = ImageEnhance.Contrast(image_clue_0)
enhanced_img = enhancer.enhance(2.0)

plt.figure(figsize=(8, 8))
plt.imshow(enhanced_img, cmap='gray')
plt.title("Enhanced Contrast Chest X-ray")
plt.axis('off')
plt.show()
