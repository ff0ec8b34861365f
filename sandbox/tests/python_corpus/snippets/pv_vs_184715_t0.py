import matplotlib.pyplot as plt

img = image_clue_0
width, height = img.size
cell_w, cell_h = width // 3, height // 3

fig, axs = plt.subplots(3, 3, figsize=(9, 9))
cells = []
for i in range(3):
    for j in range(3):
        left = j * cell_w
        upper = i * cell_h
        right = (j + 1) * cell_w
        lower = (i + 1) * cell_h
        cell = img.crop((left, upper, right, lower))
        cells.append(cell)
        axs[i, j].imshow(cell)
        axs[i, j].axis('off')
        axs[i, j].set_title(f"{i*3 + j + 1}")
plt.tight_layout()
plt.show()
