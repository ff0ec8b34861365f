from skimage.filters import threshold_local

# Adaptive/local thresholding
block_size = 51  # roughly 1/10th of image width, tune if needed
local_thresh = threshold_local(eq_gray_np, block_size, offset=0)
adaptive_mask = eq_gray_np > local_thresh

# Morphological closing and remove small objects as before
closed_adaptive = morphology.closing(adaptive_mask, morphology.square(5))
cleaned_adaptive = morphology.remove_small_objects(closed_adaptive, min_size=200)

# Label connected components
labeled_adaptive, num_adaptive = ndi.label(cleaned_adaptive)

print("Number of labeled regions after adaptive thresholding:", num_adaptive)

# Visualize
plt.figure(figsize=(8,8))
plt.imshow(image_clue_0)
plt.imshow(labeled_adaptive, cmap='nipy_spectral', alpha=0.4)
plt.title(f'Adaptive Labeled Building Candidates: {num_adaptive}')
plt.axis('off')
plt.show()
