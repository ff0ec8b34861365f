# Apply a high threshold to isolate bright rooftops
building_thresh = 200  # Chosen based on visual inspection; can tweak if needed
binary_buildings = (gray_image > building_thresh).astype(np.uint8)

plt.figure(figsize=(8, 8))
plt.imshow(binary_buildings, cmap='gray')
plt.title("Thresholded Buildings (White = Building)")
plt.axis('off')
plt.show()

# Print statistics to check how many pixels are classified as buildings
print("Number of building pixels:", np.sum(binary_buildings))
