import matplotlib.pyplot as plt

# The bottle is in the central lower shelf, so crop that area for inspection.
# Let's estimate the coordinates: 
# x: from about 950 to 1250 (central area), y: from about 950 to 1200 (lower shelf, above hats)
cropped_bottle_area = image_clue_0.crop((950, 950, 1250, 1200))

plt.imshow(cropped_bottle_area)
plt.axis('off')
plt.show()
