# Rotate the image 90 degrees counterclockwise to correct orientation
processed_image = image.rotate(90, expand=True)
# Boost contrast for text
processed_image = ImageEnhance.Contrast(processed_image).enhance(1.1)
processed_image = ImageEnhance.Brightness(processed_image).enhance(1.05)
processed_image = ImageEnhance.Sharpness(processed_image).enhance(1.02)
processed_image = ImageEnhance.Contrast(processed_image).enhance(1.03)
# Assign result
result = processed_image
