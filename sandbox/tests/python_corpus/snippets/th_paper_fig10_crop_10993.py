import os
import random
from PIL import Image

# Load the image
image_path = "MME-RealWorld/10993.jpg"
image = Image.open(image_path)

# Define the coordinates for cropping (based on the inferred region)
x1, y1, x2, y2 = 0, 1000, 1000, 1500 # Adjust these coordinates based on the image content

# Crop the image
cropped_image = image.crop((x1, y1, x2, y2))

# Apply zoom (resizing the cropped image for better visibility)
zoom_factor = 2
zoomed_image = cropped_image.resize((cropped_image.width * zoom_factor, cropped_image.height * zoom_factor))

# Save the processed image with a random suffix
random_suffix = random.randint(1000, 9999)
processed_filename = f"10993_{random_suffix}.jpg"
processed_path = "/mnt/data/temp_processed_images/" + processed_filename
zoomed_image.save(processed_path)

# Print the path of the saved cropped image
print(processed_path)
