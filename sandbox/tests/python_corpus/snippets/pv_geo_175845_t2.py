from scipy import ndimage as ndi
from skimage import measure, morphology

# Morphological closing to fill gaps and remove small holes
closed_mask = morphology.closing(binary_mask, morphology.square(10))

# Remove small objects (noise)
cleaned_mask = morphology.remove_small_objects(closed_mask, min_size=500)

# Label connected components
labeled_mask, num_features = ndi.label(cleaned_mask)

print("Number of labeled regions (potential buildings):", num_features)

# Visualize labeled regions overlaid on the original image
plt.figure(figsize=(8,8))
plt.imshow(image_clue_0)
plt.imshow(labeled_mask, cmap='nipy_spectral', alpha=0.4)
plt.title(f'Labeled Building Candidates: {num_features}')
plt.axis('off')
plt.show()
