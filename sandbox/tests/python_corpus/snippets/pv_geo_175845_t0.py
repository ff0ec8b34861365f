import matplotlib.pyplot as plt

# Step 1: Visualize the image
plt.figure(figsize=(6,6))
plt.imshow(image_clue_0)
plt.title("Original Remote Sensing Image")
plt.axis('off')
plt.show()
