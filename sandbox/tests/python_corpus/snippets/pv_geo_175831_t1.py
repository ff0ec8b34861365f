from scipy import ndimage

# Apply Sobel filter to detect edges
sobel_x = ndimage.sobel(gray, axis=0)
sobel_y = ndimage.sobel(gray, axis=1)
sobel = np.hypot(sobel_x, sobel_y)

plt.figure(figsize=(6,6))
plt.imshow(sobel, cmap='gray')
plt.title('Sobel Edge Detection')
plt.axis('off')
plt.show()
