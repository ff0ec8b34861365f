# Rotate the image 180 degrees to adjust orientation while keeping current left-right characteristics
result = image.rotate(180, expand=True)