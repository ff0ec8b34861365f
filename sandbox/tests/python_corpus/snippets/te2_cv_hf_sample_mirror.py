# Horizontally mirror the original image to correct left-to-right reversal
result = ImageOps.mirror(image)