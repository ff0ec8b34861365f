import matplotlib.pyplot as plt

# Display the image and annotate the relevant points
img = image_clue_0

fig, ax = plt.subplots(figsize=(8, 6))
ax.imshow(img)

# Mark Jan. 2011 and Sept. 2011 positions and values for 'Mostly bad news'
# Based on the x-axis, Jan. 2011 is around 2/3 of the way, Sept. 2011 is at the far right
jan_2011_x = 243  # estimated pixel for Jan. 2011
sept_2011_x = 395  # estimated pixel for Sept. 2011
bad_news_jan_2011_y = 185  # estimated pixel for value 24
bad_news_sept_2011_y = 60  # estimated pixel for value 67

# Annotate the points
ax.scatter([jan_2011_x, sept_2011_x], [bad_news_jan_2011_y, bad_news_sept_2011_y], color='red', zorder=5)
ax.text(jan_2011_x, bad_news_jan_2011_y-20, 'Jan 2011: 24', color='red', fontsize=12)
ax.text(sept_2011_x, bad_news_sept_2011_y-20, 'Sept 2011: 67', color='red', fontsize=12)

plt.title("Marking 'Mostly bad news' values for Jan 2011 and Sept 2011")
plt.axis('off')
plt.show()
