from scipy.ndimage import label

# Label connected components in the binary building mask
structure = np.ones((3, 3), dtype=np.int)  # 8-connectivity
labeled, ncomponents = label(binary_buildings, structure=structure)

print("Estimated number of buildings:", ncomponents)
