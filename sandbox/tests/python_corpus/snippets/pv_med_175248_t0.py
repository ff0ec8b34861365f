import matplotlib.pyplot as plt
from PIL import ImageEnhance

# Display original image
plt.figure(figsize=(8, 6))
plt.imshow(image_clue_0)
plt.title("Original Image")
plt.axis('off')
plt.show()

# Enhance contrast
enhancer = ImageEnhance.Contrast(image_clue_0)
enhanced_image = enhancer.enhance(2.0)

plt.figure(figsize=(8, 6))
plt.imshow(enhanced_image)
plt.title("Contrast Enhanced Image")
plt.axis('off')
plt.show()
