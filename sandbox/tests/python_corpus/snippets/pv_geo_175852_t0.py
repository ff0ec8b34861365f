import matplotlib.pyplot as plt
import numpy as np

# Show the whole image
plt.figure(figsize=(8, 8))
plt.imshow(image_clue_0)
plt.title("Original Image")
plt.show()

# Extract a zoomed-in region where cars or lane markings are visible (estimate region)
# Let's try a region near the main road (central part of the image)
zoom_region = image_clue_0.crop((200, 200, 320, 320))
plt.figure(figsize=(6, 6))
plt.imshow(zoom_region)
plt.title("Zoomed Region (for scale estimation)")
plt.show()
