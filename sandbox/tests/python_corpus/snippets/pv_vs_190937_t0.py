import matplotlib.pyplot as plt

# The main bookshelf appears to be at the center back of the room.
# Let's crop a region around it:
left = 1050
top = 900
right = 1850
bottom = 1700

bookshelf_crop = image_clue_0.crop((left, top, right, bottom))

plt.imshow(bookshelf_crop)
plt.title("Zoomed-in View of Main Bookshelf")
plt.axis('off')
plt.show()
