# Approximate crop around the line in the 'Did you know?' section
xmin, ymin, xmax, ymax = 559, 725, 838, 781
cropped = image.crop((xmin, ymin, xmax, ymax))
# Then convert to grayscale and enhance contrast for readability
gray = ImageOps.grayscale(cropped)
enh = ImageEnhance.Contrast(gray).enhance(1.5)
result = enh
