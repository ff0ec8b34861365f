# Check the shape of the image array
img_array = np.array(image_clue_0)
print("Image shape:", img_array.shape)

# If the image has 3 channels (RGB), convert to grayscale
if len(img_array.shape) == 3:
    # Use the luminosity method to convert to grayscale
    img_gray = np.dot(img_array[...,:3], [0.2989, 0.5870, 0.1140]).astype(np.uint8)
else:
    img_gray = img_array

# Show the grayscale image
plt.figure(figsize=(6, 8))
plt.imshow(img_gray, cmap='gray')
plt.title("Grayscale X-ray")
plt.axis('off')
plt.show()

# Enhance contrast by stretching intensity values
p2, p98 = np.percentile(img_gray, (2, 98))
img_rescale = np.clip((img_gray - p2) * 255.0 / (p98 - p2), 0, 255).astype(np.uint8)

plt.figure(figsize=(6, 8))
plt.imshow(img_rescale, cmap='gray')
plt.title("Contrast Enhanced Grayscale X-ray")
plt.axis('off')
plt.show()

# Zoom in on the joint area (central region)
h, w = img_gray.shape
zoomed = img_rescale[h//4:3*h//4, w//4:3*w//4]

plt.figure(figsize=(6, 6))
plt.imshow(zoomed, cmap='gray')
plt.title("Zoomed In (Joint Area)")
plt.axis('off')
plt.show()
