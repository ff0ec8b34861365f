# Convert image to numpy array
img_np = np.array(image_clue_0)

# Print shape and a few pixels to inspect channel format
print("Image shape:", img_np.shape)
print("Sample pixels (top left, center, bottom right):", img_np[0,0], img_np[img_np.shape[0]//2,img_np.shape[1]//2], img_np[-1,-1])

# Let's plot the color histograms for each channel to see the color values
plt.figure(figsize=(10,4))
for i, color in enumerate(['Red', 'Green', 'Blue']):
    plt.hist(img_np[:,:,i].ravel(), bins=256, color=color.lower(), alpha=0.5, label=f'{color} channel')
plt.legend()
plt.title('Color Channel Histograms')
plt.show()
