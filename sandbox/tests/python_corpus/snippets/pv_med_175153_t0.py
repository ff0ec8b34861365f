import matplotlib.pyplot as plt

# Show the image at a higher zoom to analyze lesion details
fig, ax = plt.subplots(figsize=(8, 8))
# Crop the lesion area for detailed viewing (coordinates estimated from center)
# The lesion appears in the left half, so crop around its center
cropped = image_clue_0.crop((700, 900, 1400, 1600))
ax.imshow(cropped)
plt.axis('off')
plt.title("Zoomed-in View of Lesion")
plt.show()
