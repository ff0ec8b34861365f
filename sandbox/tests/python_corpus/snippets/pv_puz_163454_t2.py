# Segment magenta and blue circles
# Magenta: High R, High B, Low G
magenta_mask = (img_np[:,:,0] > 200) & (img_np[:,:,1] < 100) & (img_np[:,:,2] > 200)
# Blue: Low R, Low G, High B
blue_mask = (img_np[:,:,0] < 100) & (img_np[:,:,1] < 100) & (img_np[:,:,2] > 200)

# Get coordinates for each circle
magenta_coords = np.column_stack(np.where(magenta_mask))
blue_coords = np.column_stack(np.where(blue_mask))

# Calculate centers
magenta_center = magenta_coords.mean(axis=0)
blue_center = blue_coords.mean(axis=0)

print("Magenta center (row, col):", magenta_center)
print("Blue center (row, col):", blue_center)

# Estimate radii (max distance from center)
magenta_radius = np.sqrt(((magenta_coords - magenta_center)**2).sum(axis=1)).max()
blue_radius = np.sqrt(((blue_coords - blue_center)**2).sum(axis=1)).max()

print("Magenta radius:", magenta_radius)
print("Blue radius:", blue_radius)

# Calculate center distance
center_distance = np.linalg.norm(magenta_center - blue_center)
print("Distance between centers:", center_distance)
print("Sum of radii:", magenta_radius + blue_radius)
