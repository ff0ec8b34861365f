import os
import random
from PIL import Image

# Load the image
image_path = "hr_bench_4k/179.jpg"
image = Image.open(image_path)

# Define the cropping coordinates (x1, y1, x2, y2)
# These coordinates are estimated based on the sign's position in the image
x1, y1, x2, y2 = 1550, 2650, 1850, 2750

# Crop the image
cropped_image = image.crop((x1, y1, x2, y2))

# Apply a zoom factor (optional, depending on the required level of detail)
zoom_factor = 2
zoomed_image = cropped_image.resize((cropped_image.width * zoom_factor, cropped_image.height * zoom_factor))

# Save the processed image with a random suffix
random_suffix = random.randint(1000, 9999)
processed_filename = f"179_{random_suffix}.jpg"
processed_path = "/mnt/data/temp_processed_images/" + processed_filename
zoomed_image.save(processed_path)

# Print the path of the saved cropped image
print(processed_path)
