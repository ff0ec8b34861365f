import matplotlib.pyplot as plt
import numpy as np

# Display the image for initial inspection
plt.figure(figsize=(6,6))
plt.imshow(image_clue_0)
plt.title("Remote Sensing Image")
plt.axis('on')
plt.show()
