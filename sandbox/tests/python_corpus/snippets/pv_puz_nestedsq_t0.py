import matplotlib.pyplot as plt

# Display the image for initial visual inspection
plt.imshow(image_clue_0)
plt.axis('off')
plt.show()
