import cv2
import numpy as np
import os

# Load the image
image_path = "OCR_55251.png"
image = cv2.imread(image_path)

# Define the rotation angle (in degrees)
angle = 172 # The angle is derived from the filename suffix

# Get the image dimensions
height, width = image.shape[:2]
# Calculate the rotation matrix
rotation_matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1)
# Perform the rotation
rotated_image = cv2.warpAffine(image, rotation_matrix, (width, height))
# Save the rotated image with a random suffix
random_suffix = np.random.randint(100000, 999999)
processed_path = f"/mnt/data/temp_processed_images/OCR_55251_{random_suffix}.png"
cv2.imwrite(processed_path, rotated_image)
# Print the saved image path
print(processed_path)
