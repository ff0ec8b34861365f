from scipy.ndimage import label

# Define orange color range for masking
orange_lower = np.array([200, 70, 30])
orange_upper = np.array([230, 110, 60])

# Create a boolean mask for orange pixels
orange_mask = np.all((img >= orange_lower) & (img <= orange_upper), axis=-1)

plt.imshow(orange_mask, cmap='gray')
plt.title("Orange Mask")
plt.show()

# Label connected orange regions
labeled_mask, num_features = label(orange_mask)
print("Number of orange regions found:", num_features)

# Get area (pixel count) of each region
areas = [(labeled_mask == i).sum() for i in range(1, num_features+1)]
print("Areas of orange regions:", areas)
