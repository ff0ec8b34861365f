import os
import random
from PIL import Image, ImageEnhance

# Load the image
image_path = "OCRBench/150.jpg"
img = Image.open(image_path)

# Enhance the contrast
enhancer = ImageEnhance.Contrast(img)
enhanced_img = enhancer.enhance(2.0) # Increase contrast by a factor of 2

# Save the enhanced image with a random suffix
random_suffix = random.randint(1000, 9999)
filename, ext = os.path.splitext(os.path.basename(image_path))
processed_filename = f"{filename}_{random_suffix}{ext}"
processed_path = os.path.join("/mnt/data/temp_processed_images/", processed_filename)
enhanced_img.save(processed_path)

# Print the path of the saved enhanced image
print(processed_path)
