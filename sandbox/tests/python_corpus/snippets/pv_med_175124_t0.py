import matplotlib.pyplot as plt
import numpy as np

# Show the original image
plt.figure(figsize=(8, 8))
plt.imshow(image_clue_0)
plt.title("Original Fundus Image")
plt.axis('off')
plt.show()

# Enhance contrast using histogram equalization (on each channel)
def enhance_contrast(img):
    arr = np.asarray(img)
    enhanced = np.zeros_like(arr)
    for i in range(3):  # For R, G, B channels
        channel = arr[..., i]
        hist, bins = np.histogram(channel.flatten(), 256, [0,256])
        cdf = hist.cumsum()
        cdf_normalized = cdf * hist.max()/ cdf.max()
        cdf_m = np.ma.masked_equal(cdf, 0)
        cdf_m = (cdf_m - cdf_m.min())*255/(cdf_m.max()-cdf_m.min())
        cdf = np.ma.filled(cdf_m,0).astype('uint8')
        enhanced[..., i] = cdf[channel]
    return enhanced

enhanced_img = enhance_contrast(image_clue_0)

plt.figure(figsize=(8, 8))
plt.imshow(enhanced_img)
plt.title("Contrast Enhanced Fundus Image")
plt.axis('off')
plt.show()
