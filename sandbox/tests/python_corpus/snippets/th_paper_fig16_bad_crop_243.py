import os
import random
from PIL import Image

# Load the image
image_path = "hr_bench_4k/243.jpg"
img = Image.open(image_path)

# Define the cropping coordinates (x1, y1, x2, y2)
# These coordinates are estimated based on the position of the train's front panel
x1, y1, x2, y2 = 1600, 1900, 1900, 2200

# Crop the image
cropped_img = img.crop((x1, y1, x2, y2))

# Save the cropped image with a random suffix
random_suffix = random.randint(1000, 9999)
filename, ext = os.path.splitext(os.path.basename(image_path))
processed_filename = f"{filename}_{random_suffix}{ext}"
processed_path = os.path.join("/mnt/data/temp_processed_images/", processed_filename)
cropped_img.save(processed_path)

# Print the path of the saved cropped image
print(processed_path)
