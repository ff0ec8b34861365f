# Try smaller structuring element and smaller min_size
closed_mask_small = morphology.closing(binary_mask, morphology.square(5))
cleaned_mask_small = morphology.remove_small_objects(closed_mask_small, min_size=200)

# Try inverting the grayscale and repeat for dark roofs
inv_gray_np = 1 - eq_gray_np
thresh_val_inv = filters.threshold_otsu(inv_gray_np)
binary_mask_inv = inv_gray_np > thresh_val_inv
closed_mask_inv = morphology.closing(binary_mask_inv, morphology.square(5))
cleaned_mask_inv = morphology.remove_small_objects(closed_mask_inv, min_size=200)

# Combine both masks (bright + dark roofs)
combined_mask = np.logical_or(cleaned_mask_small, cleaned_mask_inv)

# Label connected components
labeled_combined, num_combined = ndi.label(combined_mask)

print("Number of labeled regions after combining (potential buildings):", num_combined)

# Visualize the combined labeled mask
plt.figure(figsize=(8,8))
plt.imshow(image_clue_0)
plt.imshow(labeled_combined, cmap='nipy_spectral', alpha=0.4)
plt.title(f'Combined Labeled Building Candidates: {num_combined}')
plt.axis('off')
plt.show()
