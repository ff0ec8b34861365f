import matplotlib.pyplot as plt

# Crop the area around 2016 and the "Jobs" line for better inspection
# Approximate crop: x (2014-2018), y (50%-80%) of image height
width, height = image_clue_0.size
left = int(width * 0.53)   # 2016 is about halfway to the right
right = int(width * 0.85)
top = int(height * 0.23)   # crop down from top (to just above 80%)
bottom = int(height * 0.65) # crop down to just below 60%

cropped_img = image_clue_0.crop((left, top, right, bottom))

plt.imshow(cropped_img)
plt.axis('off')
plt.show()
