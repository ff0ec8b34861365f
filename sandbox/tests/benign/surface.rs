//! Benign programs for `ImageDraw`, the `ImageFilter` kernels and the numpy
//! surface, with exact outputs. The test image is a linear gradient
//! (`[4x, 5y, x + y]`), so symmetric kernels leave interior pixels unchanged.

use crate::common::*;

#[test]
fn b56_draw_rectangle_on_a_crop_mutates_the_crop() {
    let (obs, st) = run(
        "from PIL import ImageDraw\ncrop = image.crop((0, 0, 20, 20))\ndraw = ImageDraw.Draw(crop)\n\
         draw.rectangle([(2, 2), (10, 8)], outline=(255, 0, 0), width=2)\n\
         print(crop.getpixel((2, 2)), crop.getpixel((3, 3)), crop.getpixel((4, 4)), crop.getpixel((10, 8)), crop.getpixel((9, 5)))\n\
         result = crop",
    );
    assert!(obs.error.is_none(), "{}", obs.text);
    assert_eq!(obs.text, "(255, 0, 0) (255, 0, 0) (16, 20, 8) (255, 0, 0) (255, 0, 0)\n[shown as image_clue_1: 20x20]");
    assert_eq!(st.images[1].region_in_root, Some([0, 0, 20, 20]));
    assert_eq!(st.images[1].image.rgb.get_pixel(11, 8).0, [44, 40, 19]);
}

#[test]
fn b57_draw_fill_lines_and_copy_semantics() {
    let t = ok("from PIL import ImageDraw\ncanvas = image.copy()\nd = ImageDraw.Draw(canvas)\n\
                d.rectangle((0, 0, 3, 3), fill='green')\nd.line([(0, 10), (63, 10)], fill=(0, 0, 255))\n\
                d.line((5, 20, 5, 30), fill='white', width=3)\n\
                print(canvas.getpixel((3, 3)), canvas.getpixel((4, 4)), canvas.getpixel((40, 10)), canvas.getpixel((40, 11)))\n\
                print(canvas.getpixel((4, 25)), canvas.getpixel((6, 25)), canvas.getpixel((7, 25)))\nprint(image.getpixel((3, 3)))");
    assert_eq!(
        t,
        "(0, 128, 0) (16, 20, 8) (0, 0, 255) (160, 55, 51)\n(255, 255, 255) (255, 255, 255) (28, 125, 32)\n(12, 15, 6)"
    );
}

#[test]
fn b58_draw_text_is_a_placeholder_box() {
    let t = ok("from PIL import ImageDraw\nc = image.copy()\nImageDraw.Draw(c).text((1, 1), 'ab', fill=(255, 255, 0))\n\
                print(c.getpixel((1, 1)), c.getpixel((12, 11)), c.getpixel((13, 1)), c.getpixel((1, 12)))");
    assert_eq!(t, "(255, 255, 0) (255, 255, 0) (52, 5, 14) (4, 60, 13)");
}

#[test]
fn b59_draw_boxes_from_operator_regions() {
    let (obs, st) = run(
        "from PIL import ImageDraw\nres = blocky(image)\nvis = image.copy()\ndraw = ImageDraw.Draw(vis)\n\
         for x0, y0, x1, y1 in res['regions']:\n    draw.rectangle([x0, y0, x1, y1], outline='red', width=1)\n\
         print(vis.getpixel((2, 3)), vis.getpixel((10, 12)), vis.getpixel((5, 6)))\nresult = vis",
    );
    assert!(obs.error.is_none(), "{}", obs.text);
    assert!(obs.text.ends_with("\n(255, 0, 0) (255, 0, 0) (20, 30, 11)\n[shown as image_clue_2: 64x48]"), "{}", obs.text);
    assert_eq!(st.images[2].image.rgb.get_pixel(6, 3).0, [255, 0, 0]);
}

#[test]
fn b60_fixed_filters_with_pillow_kernels() {
    let t = ok("from PIL import ImageFilter\n\
                for f in [ImageFilter.BLUR, ImageFilter.SHARPEN, ImageFilter.EDGE_ENHANCE, ImageFilter.DETAIL, ImageFilter.FIND_EDGES, ImageFilter.CONTOUR, ImageFilter.EMBOSS, ImageFilter.SMOOTH_MORE]:\n\
                \x20   print(image.filter(f).getpixel((10, 10)))\nprint(image.filter(ImageFilter.FIND_EDGES).getpixel((0, 0)))");
    assert_eq!(
        t,
        "(40, 50, 20)\n(40, 50, 20)\n(40, 50, 20)\n(40, 50, 20)\n(0, 0, 0)\n(255, 255, 255)\n(132, 133, 130)\n(40, 50, 20)\n(0, 0, 0)"
    );
}

#[test]
fn b61_gaussian_box_and_median_filters() {
    let t = ok("from PIL import ImageFilter\ng = image.filter(ImageFilter.GaussianBlur(radius=2))\n\
                print(g.getpixel((30, 24)), g.size)\nprint(image.filter(ImageFilter.BoxBlur(1)).getpixel((30, 24)))\n\
                m = image.filter(ImageFilter.MedianFilter(3))\nprint(m.getpixel((30, 24)), m.getpixel((0, 0)))\n\
                print(image.filter(ImageFilter.GaussianBlur(0)).getpixel((5, 5)))");
    assert_eq!(t, "(120, 120, 54) (64, 48)\n(120, 120, 54)\n(120, 120, 54) (0, 0, 1)\n(20, 25, 10)");
}

#[test]
fn b62_numpy_region_and_channel_statistics() {
    let t = ok("import numpy as np\narr = np.array(image)\nregion = arr[10:20, 30:40]\nprint(region.shape, region.dtype)\n\
                red = arr[:, :, 0]\nprint(red.shape, red.max(), red.min())\n\
                print(np.mean(region), float(np.std(arr[0, :, 0])))\nprint(arr[5, 7], arr[5, 7, 1], arr.ndim, arr.size, len(arr))\n\
                print(f'{region.mean():.2f}', np.max(arr[:, :, 1]), np.sum(arr[0:2, 0:2, 0]))");
    assert_eq!(
        t,
        "(10, 10, 3) uint8\n(48, 64) 252 0\n86.5 73.89181280764467\n[28 25 12] 25 3 9216 48\n86.50 235 8"
    );
}

#[test]
fn b63_numpy_difference_image_round_trip() {
    let (obs, st) = run(
        "import numpy as np\na = np.array(image).astype(np.float32)\nb = np.array(image.transpose(Image.FLIP_LEFT_RIGHT)).astype(np.float32)\n\
         diff = np.abs(a - b)\nprint(diff.dtype, diff.max(), diff[0, 0, 0], diff[0, 0, 2], diff[:, :, 1].max())\n\
         out = Image.fromarray(np.clip(diff * 2, 0, 255).astype(np.uint8))\nprint(out.size, out.mode, out.getpixel((0, 0)))\nresult = out",
    );
    assert!(obs.error.is_none(), "{}", obs.text);
    assert_eq!(obs.text, "float32 252.0 252.0 63.0 0.0\n(64, 48) RGB (255, 0, 126)\n[shown as image_clue_1: 64x48]");
    assert_eq!(st.images[1].image.rgb.get_pixel(63, 0).0, [255, 0, 126]);
    assert_eq!(st.images[1].image.rgb.get_pixel(32, 5).0, [8, 0, 2]);
}

#[test]
fn b64_numpy_zeros_ones_and_grey_round_trip() {
    let t = ok("import numpy as np\nmask = np.zeros((4, 6), dtype=np.uint8)\nprint(mask.shape, mask.sum(), np.ones((2, 3)).sum())\n\
                m = Image.fromarray(mask + 200)\nprint(m.mode, m.size, m.getpixel((5, 3)))\n\
                g = np.array(image.convert('L'))\nprint(g.shape, g[0, 0], g[47, 63])\n\
                back = Image.fromarray(g)\nprint(back.mode, back.getpixel((63, 47)) == image.convert('L').getpixel((63, 47)))");
    assert_eq!(t, "(4, 6) 0 6.0\nL (6, 4) 200\n(48, 64) 0 226\nL True");
}

#[test]
fn b65_numpy_dtype_rules_and_broadcasting() {
    let t = ok("import numpy as np\na = np.array([[250, 10], [3, 4]], dtype=np.uint8)\nprint((a + 10).max(), (a + 10).min(), (a / 2).dtype, a.dtype == np.uint8)\n\
                col = np.array([[1], [2]])\nrow = np.array([10, 20, 30])\nprint((col * row).shape, (col * row).sum())\n\
                print(np.array([1.5, 2.5]).mean(), np.clip(np.array([1, 5, 9]), 2, 6), np.zeros(3))");
    assert_eq!(t, "20 4 float32 True\n(2, 3) 180\n2.0 [2 5 6] <numpy.ndarray shape=(3,) dtype=float32>");
}

#[test]
fn b66_imshow_of_an_array_and_a_float_map() {
    let (obs, st) = run(
        "import numpy as np\nimport matplotlib.pyplot as plt\narr = np.array(image.crop((0, 0, 8, 8)))\n\
         energy = arr[:, :, 0].astype(np.float32) * 0.5\nplt.imshow(energy, cmap='gray')\nplt.show()\nprint(energy.max(), energy.min())",
    );
    assert!(obs.error.is_none(), "{}", obs.text);
    assert_eq!(obs.text, "[shown as image_clue_1: 8x8]\n14.0 0.0");
    let shown = &st.images[1].image.rgb;
    assert_eq!((shown.get_pixel(0, 0).0, shown.get_pixel(7, 3).0), ([0, 0, 0], [255, 255, 255]));
}

#[test]
fn b67_operator_on_a_uint8_array() {
    let t = ok("import numpy as np\narr = np.array(image)\nr = blocky(Image.fromarray(arr[0:10, 0:10]))\nprint(r['stats']['n'])");
    assert!(t.ends_with("\n100"), "{t}");
}

#[test]
fn b94_slice_bounds_as_cpython_reads_them() {
    // Expected text is what CPython 3.11 prints for the same program (bools are
    // integers there, so `True` is a valid bound).
    assert_eq!(ok("x = [1, 2, 3, 4, 5, 6]\nprint(x[1:4], x[::-2], x[True:3], 'abcdef'[1::2])"), "[2, 3, 4] [6, 4, 2] [2, 3] bdf");
    let obs = fails("x = [1, 2, 3]\nprint(x[1.5:2])", "TypeError");
    let e = obs.error.unwrap_or_default();
    assert!(e.contains("slice indices must be integers or None or have an __index__ method"), "{e}");
}
