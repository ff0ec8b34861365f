import matplotlib.pyplot as plt

# Image size and grid
img_width, img_height = 658, 664
rows, cols = 3, 3
cell_width = img_width / cols
cell_height = img_height / rows

# Bag positions in (row, col)
bag_positions = [(0,1), (1,2), (2,0), (2,1), (2,2)]
colors = ['red', 'green', 'blue', 'orange', 'purple']

# Calculate click points
click_points = []
for (row, col) in bag_positions:
    x = col * cell_width + cell_width / 2
    y = row * cell_height + cell_height / 2
    click_points.append((x, y))

# Show image and click points
plt.figure(figsize=(8,8))
plt.imshow(image_clue_0)
for idx, (x, y) in enumerate(click_points):
    plt.scatter([x], [y], color=colors[idx], s=100, label=f'Bag {idx+1}')
plt.legend()
plt.title('Click Points on Bags')
plt.axis('off')
plt.show()

# Print click points
for idx, (x, y) in enumerate(click_points):
    print(f"Bag {idx+1}: (x={x:.2f}, y={y:.2f}), color={colors[idx]}")
