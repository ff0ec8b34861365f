# attempts: disable PIL's decompression-bomb guard and create a 60000x60000 RGB image (~13 GiB, filled)
# category: memory
from PIL import Image

Image.MAX_IMAGE_PIXELS = None
im = Image.new("RGB", (60000, 60000), (1, 2, 3))  # MemoryError under RLIMIT_AS
im.putpixel((59999, 59999), (4, 5, 6))
print(f"ESCAPED: allocated a {im.size[0]}x{im.size[1]} RGB image (~13 GiB)")
