# Let's visually inspect and manually select a few cars' bounding boxes.
# From the zoomed image, cars are along the street at the bottom left.
# We'll take a few samples.

# Let's crop three car regions and measure their length in pixels.
car_coords = [
    (85, 360, 95, 376),   # Car 1 (red, bottom left)
    (115, 390, 125, 405), # Car 2 (white, lower left)
    (305, 355, 315, 370), # Car 3 (blue, upper center-left)
]

lengths = []
for i, (x0, y0, x1, y1) in enumerate(car_coords):
    car_crop = image_clue_0.crop((x0, y0, x1, y1))
    plt.imshow(car_crop)
    plt.title(f'Car {i+1}')
    plt.show()
    width = x1 - x0
    height = y1 - y0
    # For cars, length is along the longer dimension
    car_length = max(width, height)
    lengths.append(car_length)
    print(f"Car {i+1} length in pixels: {car_length}")

# Average car length in pixels
avg_car_length_px = np.mean(lengths)
print("Average car length (pixels):", avg_car_length_px)

# Assume average real-world car length = 4.5 meters
meters_per_pixel = 4.5 / avg_car_length_px
print("Estimated meters per pixel:", meters_per_pixel)
