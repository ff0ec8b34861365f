//! Pillow's `crop` and numpy's comparisons, boolean masks and `axis=`
//! reductions, checked against the real libraries: every expected text below
//! is what Pillow 13.0.0 with NumPy 2.4.6 (CPython 3) printed for the same
//! program on the same image (`[4x, 5y, x + y]`, 64x48, bound to `image`),
//! so a change that drifts from Pillow/numpy fails here.

use crate::common::*;

#[test]
fn b87_crop_outside_the_image_is_padded_like_pillow() {
    // Pillow returns exactly (right - left) x (lower - upper) and fills what
    // lies outside the source with zeros.
    let src = "c = image.crop((50, 40, 100, 100))\n\
               print(c.size, c.getpixel((0, 0)), c.getpixel((13, 7)), c.getpixel((14, 7)), c.getpixel((13, 8)), c.getpixel((49, 59)))\n\
               c = image.crop((-10, -5, 10, 5))\n\
               print(c.size, c.getpixel((0, 0)), c.getpixel((9, 5)), c.getpixel((10, 5)), c.getpixel((19, 9)))\n\
               c = image.crop((1000, 1000, 2000, 2000))\n\
               print(c.size, c.getpixel((0, 0)), c.getpixel((999, 999)))";
    // Pillow 13.0.0.
    const PILLOW: &str = "(50, 60) (200, 200, 90) (252, 235, 110) (0, 0, 0) (0, 0, 0) (0, 0, 0)\n\
                          (20, 10) (0, 0, 0) (0, 0, 0) (0, 0, 0) (36, 20, 13)\n\
                          (1000, 1000) (0, 0, 0) (0, 0, 0)";
    assert_eq!(ok(src), PILLOW);
}

#[test]
fn b88_padded_crop_regions_are_the_part_inside_the_source() {
    let (obs, st) = run("result = image.crop((50, 40, 100, 100))");
    assert!(obs.error.is_none(), "{}", obs.text);
    assert_eq!(obs.bbox_candidate, Some([50, 40, 64, 48]));
    assert_eq!(st.images[1].region_in_root, Some([50, 40, 64, 48]));
    assert_eq!((st.images[1].image.width(), st.images[1].image.height()), (50, 60));
    assert_eq!(st.images[1].image.rgb.get_pixel(49, 59).0, [0, 0, 0]);

    let (obs, st) = run("result = image.crop((-10, -5, 10, 5))");
    assert_eq!(obs.bbox_candidate, Some([0, 0, 10, 5]));
    assert_eq!(st.images[1].region_in_root, Some([0, 0, 10, 5]));

    // Entirely outside: a black image with no place in image_clue_0.
    let (obs, st) = run("result = image.crop((1000, 1000, 1010, 1020))");
    assert!(obs.error.is_none(), "{}", obs.text);
    assert_eq!(obs.bbox_candidate, None);
    assert_eq!(st.images[1].region_in_root, None);
    assert_eq!(obs.text, "[shown as image_clue_1: 10x20]");

    // A crop of a padded crop stays within the parent's region.
    let (obs, _) = run("a = image.crop((40, 30, 100, 100))\nb = a.crop((10, 10, 50, 50))\nprint(b.size)");
    assert_eq!(obs.text, "(40, 40)");
    assert_eq!(obs.bbox_candidate, Some([50, 40, 64, 48]));
}

#[test]
fn b89_crop_rounding_empty_boxes_and_errors_like_pillow() {
    // Pillow rounds each coordinate with round() (ties to even), checks
    // right >= left / lower >= upper on the unrounded values, and allows
    // empty crops.
    let src = "a = image.crop((1.6, 2.4, 10.5, 11.5))\nb = image.crop((0.5, 1.5, 2.5, 3.5))\n\
               print(a.size, a.getpixel((0, 0)), b.size, b.getpixel((0, 0)), image.crop((10.4, 0, 10.6, 5)).size, image.crop((2.5, 0, 3.5, 1)).size)\n\
               z = image.crop((5, 5, 5, 10))\n\
               print(z.size, image.crop((5, 5, 5, 5)).size, z.crop((0, 0, 3, 3)).size, z.crop((0, 0, 3, 3)).getpixel((1, 1)), np.array(z).shape)\n\
               g = image.convert('L').crop((60, 44, 70, 50))\nprint(g.mode, g.size, g.getpixel((3, 3)), g.getpixel((4, 4)))\n\
               for box in [(30, 30, 10, 10), (10, 30, 20, 10), (10.4, 0, 10.2, 5)]:\n    try:\n        image.crop(box)\n    except ValueError as e:\n        print(e)";
    // Pillow 13.0.0, NumPy 2.4.6.
    const PILLOW: &str = "(8, 10) (8, 10, 4) (2, 2) (0, 10, 2) (1, 5) (2, 1)\n\
                          (0, 5) (0, 0) (3, 3) (0, 0, 0) (5, 0, 3)\n\
                          L (10, 6) 226 0\n\
                          Coordinate 'right' is less than 'left'\n\
                          Coordinate 'lower' is less than 'upper'\n\
                          Coordinate 'right' is less than 'left'";
    assert_eq!(ok(src), PILLOW);
}

#[test]
fn b90_comparisons_give_boolean_masks() {
    let src = "gray = np.array(image.convert('L'))\nmask = gray > 100\n\
               print(mask.dtype, mask.shape, mask.sum(), mask.mean(), np.count_nonzero(mask), (~mask).sum(), mask[0, 0], mask[47, 63])\n\
               print(np.array([1, 2, 3]) > 2, np.array([1, 2, 3]) == np.array([1, 5, 3]), np.array([True, True]), np.array([1, 20, 300]))\n\
               sel = gray[mask]\narr = np.array(image)\n\
               print(sel.shape, sel.dtype, sel.min(), sel[:5], arr[mask].shape, arr[mask][0])\n\
               vis = mask.astype(np.uint8) * 255\n\
               print(vis.dtype, vis.max(), Image.fromarray(vis).getpixel((0, 47)), Image.fromarray(vis).getpixel((0, 0)))\n\
               both = mask & (gray < 200)\n\
               print(both.sum(), (mask | (gray < 50)).sum(), (mask ^ both).sum(), np.logical_not(mask).sum(), np.logical_and(mask, gray < 200).sum())";
    // NumPy 2.4.6, Pillow 13.0.0.
    const NUMPY: &str = "bool (48, 64) 1797 0.5849609375 1797 1275 False True\n\
                         [False False  True] [ True False  True] [ True  True] [  1  20 300]\n\
                         (1797,) uint8 101 [101 101 103 104 102] (1797, 3) [252  30  69]\n\
                         uint8 255 255 0\n\
                         1695 2131 102 1275 1695";
    assert_eq!(ok(src), NUMPY);
}

#[test]
fn b91_where_nonzero_mask_assignment_and_truth_values() {
    let src = "gray = np.array(image.convert('L'))\nmask = gray > 100\nys, xs = np.where(mask)\n\
               print(len(xs), xs.min(), xs.max(), ys.min(), ys.max(), np.nonzero(mask)[1][:4])\n\
               out = np.where(mask, gray, 0)\nprint(out.dtype, out.sum(), np.where(mask, 255, 0).sum(), out[0, 0], out[47, 63])\n\
               g2 = gray.copy()\ng2[mask] = 0\na = np.array(image)\na[mask] = [255, 0, 0]\n\
               print(g2.max(), gray.max(), g2[47, 63], a[47, 63], a[0, 0])\n\
               g3 = gray.copy()\ng3[g3 > 200] += 10\nprint(g3.max(), (g3 > 200).sum())\n\
               for f in [lambda: bool(mask), lambda: 0 < gray < 5, lambda: mask - mask, lambda: -mask, lambda: bool(gray[gray > 255])]:\n\
               \x20   try:\n        f()\n    except (TypeError, ValueError) as e:\n        print(e)\n\
               print(bool(np.array([3])), mask.any(), mask.all(), mask.dtype == bool)";
    // NumPy 2.4.6.
    const NUMPY: &str = "1797 0 63 6 47 [63 61 62 63]\n\
                         uint8 263628 458235 0 226\n\
                         100 226 0 [255   0   0] [0 0 0]\n\
                         236 96\n\
                         The truth value of an array with more than one element is ambiguous. Use a.any() or a.all()\n\
                         The truth value of an array with more than one element is ambiguous. Use a.any() or a.all()\n\
                         numpy boolean subtract, the `-` operator, is not supported, use the bitwise_xor, the `^` operator, or the logical_xor function instead.\n\
                         The numpy boolean negative, the `-` operator, is not supported, use the `~` operator or the logical_not function instead.\n\
                         The truth value of an empty array is ambiguous. Use `array.size > 0` to check that an array is not empty.\n\
                         True True False True";
    assert_eq!(ok(src), NUMPY);
}

#[test]
fn b92_reductions_along_axes() {
    let src = "arr = np.array(image)\ngray = np.array(image.convert('L'))\n\
               print(arr.mean(axis=(0, 1)).tolist(), arr.sum(axis=(0, 1)), arr.max(axis=2)[0, :4], arr.mean(axis=(0, 1), keepdims=True).shape)\n\
               print(gray.sum(axis=0)[:5], gray.min(axis=0)[:5], gray.max(axis=1)[:5], gray.mean(axis=1)[:4].tolist())\n\
               print(np.median(gray, axis=0)[:4].tolist(), [round(v, 4) for v in np.std(gray, axis=0)[:3].tolist()], np.mean(arr, axis=0).shape)\n\
               mask = gray > 100\n\
               print(mask.sum(axis=0)[:6], np.count_nonzero(mask, axis=1)[:8], mask.any(axis=0)[:3], mask.all(axis=1)[-2:], np.amax(arr, axis=-1).shape)";
    // NumPy 2.4.6 (the sandbox computes in f64 and stores float32, hence the rounded stds).
    const NUMPY: &str = "[126.0, 117.5, 55.0] [387072 360960 168960] [ 0  4  8 12] (1, 1, 3)\n\
                         [3438 3502 3567 3627 3689] [0 1 3 4 5] [83 86 89 92 95] [41.265625, 44.3125, 47.359375, 50.40625]\n\
                         [71.5, 72.5, 74.5, 75.5] [42.2634, 42.2275, 42.2311] (64, 3)\n\
                         [15 15 15 16 16 17] [0 0 0 0 0 0 1 3] [ True  True  True] [ True  True] (48, 64)";
    assert_eq!(ok(src), NUMPY);
}

#[test]
fn b93_array_arithmetic_beyond_the_basics() {
    // `// % & | ^ ~ -` and bool promotion, as numpy 2 does them (dtype names
    // are the sandbox's: int arrays are int32 here, int64 in numpy).
    let t = ok("a = np.array([12, 10], dtype=np.uint8)\nm = np.array([True, False])\n\
                print(a & 6, a | 1, a ^ 15, a // 3, a % 3, ~a, -a, np.array([7]) // 0, np.array([-7]) % 3)\n\
                print((m + m).dtype, (m * m).dtype, (m + 1).dtype, (m * 1.5).dtype, m + m, m * 5, ~m, np.array([300, 0]).astype(bool))\n\
                print(np.shape(image), np.shape(np.array(image.convert('L'))), np.array([4]).item(), np.array([[1, 2], [3, 4]]).flatten(), np.inf)");
    assert_eq!(
        t,
        "[4 2] [13 11] [3 5] [4 3] [0 1] [243 245] [244 246] [0] [2]\n\
         bool bool int32 float32 [ True False] [5 0] [False  True] [ True False]\n\
         (48, 64, 3) (48, 64) 4 [1 2 3 4] inf"
    );
}
