import matplotlib.pyplot as plt
import numpy as np

# Display the image to inspect the circles
plt.imshow(image_clue_0)
plt.title('Original Image')
plt.show()
