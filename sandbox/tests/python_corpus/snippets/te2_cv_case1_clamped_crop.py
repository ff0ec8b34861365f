# Determine image size
w, h = image.size
# Estimated ROI for the paragraph starting with 'with women often'
left, top, right, bottom = 920, 561, 1183, 803
# Clamp and ensure integers
left = int(round(left)); top = int(round(top))
right = int(round(right)); bottom = int(round(bottom))
left = max(0, min(left, w - 1))
top = max(0, min(top, h - 1))
right = max(left + 1, min(right, w))
bottom = max(top + 1, min(bottom, h))
# Crop the region
processed_image = image.crop((left, top, right, bottom))
# Improve contrast
processed_image = ImageEnhance.Contrast(processed_image).enhance(1.05)
processed_image = ImageEnhance.Brightness(processed_image).enhance(1.08)
processed_image = ImageEnhance.Sharpness(processed_image).enhance(1.02)
processed_image = ImageEnhance.Contrast(processed_image).enhance(1.04)
# Assign result
result = processed_image
