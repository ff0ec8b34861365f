import matplotlib.pyplot as plt

# Display the image for initial inspection
plt.figure(figsize=(8, 8))
plt.imshow(image_clue_0)
plt.title("Remote Sensing Image - Initial View")
plt.axis('off')
plt.show()
