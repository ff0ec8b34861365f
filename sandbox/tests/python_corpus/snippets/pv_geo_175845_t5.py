from skimage.feature import peak_local_max
from skimage.segmentation import watershed

# Use the cleaned adaptive mask (from previous step)
distance = ndi.distance_transform_edt(cleaned_adaptive)

# Find local maxima to use as markers
local_maxi = peak_local_max(distance, indices=False, footprint=np.ones((30, 30)), labels=cleaned_adaptive)

markers, num_markers = ndi.label(local_maxi)

# Watershed segmentation
labels_ws = watershed(-distance, markers, mask=cleaned_adaptive)

print("Number of separated regions after watershed:", np.max(labels_ws))

# Overlay result
plt.figure(figsize=(8,8))
plt.imshow(image_clue_0)
plt.imshow(labels_ws, cmap='nipy_spectral', alpha=0.4)
plt.title(f'Watershed Separated Buildings: {np.max(labels_ws)}')
plt.axis('off')
plt.show()
