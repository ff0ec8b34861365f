# Calculate and print the perimeter of each contour
perimeters = [np.sum(np.sqrt(np.sum(np.diff(contour, axis=0)**2, axis=1))) for contour in contours]
perimeters_sorted = sorted(perimeters, reverse=True)
print("Sorted perimeters of contours:")
for p in perimeters_sorted:
    print(p)
