//! Hostile programs against the numpy, `ImageDraw` and `ImageFilter` surface
//! and the reflection/format-string escape routes models (or injected text)
//! try; each must end in the named Python error, quickly.

use std::time::{Duration, Instant};

use trutheye_core::Executor;
use trutheye_sandbox::{PvrExecutor, PvrLimits};

use crate::common::*;

#[test]
fn h53_huge_np_zeros() {
    fails("import numpy as np\nx = np.zeros((100000, 100000))", "MemoryError: an array of 10000000000 elements");
    fails("import numpy as np\nx = np.ones((2**62, 2**62, 4))", "MemoryError");
    fails("import numpy as np\nx = np.zeros(10**12, dtype=np.uint8)", "MemoryError");
}

#[test]
fn h54_giant_arrays_via_broadcasting() {
    fails("import numpy as np\na = np.zeros((20000, 1))\nb = np.zeros((1, 20000))\nc = a + b", "MemoryError");
    fails("import numpy as np\nkeep = []\nfor i in range(100):\n    keep.append(np.ones((4000, 4000)))", "MemoryError: image memory budget");
    let mut st = state();
    let mut ex = PvrExecutor::new(PvrLimits { max_created_pixels: 1_000_000, ..PvrLimits::default() });
    let obs = ex.execute(&code("import numpy as np\nx = np.array(image)\nfor i in range(1000):\n    x = x * 1.0 + 1"), &mut st);
    assert_eq!(obs.error.as_deref(), Some("MemoryError: image memory budget of 1000000 pixels per action exhausted (line 4)"));
}

#[test]
fn h55_drawing_with_absurd_widths_and_coordinates() {
    let t = Instant::now();
    let out = ok("from PIL import ImageDraw\nc = image.copy()\nd = ImageDraw.Draw(c)\n\
                  d.line((0, 0, 63, 47), fill='red', width=10**9)\nd.line((-10**15, 0, 10**15, 47), fill='blue')\n\
                  d.rectangle((-10**18, -10**18, 10**18, 10**18), outline='green', width=10**12)\nd.rectangle((-10**6, -10**6, 10**6, 10**6), outline='white', width=10**12)\nprint(c.getpixel((30, 20)))");
    assert_eq!(out, "(255, 255, 255)");
    assert!(t.elapsed() < Duration::from_secs(5));
    fails("from PIL import ImageDraw\nc = image.copy()\nImageDraw.Draw(c).line((0, 0, 5, 5), width=float('inf'))", "ValueError");
    fails("from PIL import ImageDraw\nc = image.copy()\nImageDraw.Draw(c).line((0, 0, 5, 5), width=-1)", "ValueError");
    fails("from PIL import ImageDraw\nc = image.copy()\nImageDraw.Draw(c).line((0, float('nan'), 5, 5))", "ValueError: coordinates must be finite");
    fails("from PIL import ImageDraw\nc = image.copy()\nImageDraw.Draw(c).rectangle((5, 5, 1, 1))", "ValueError");
}

#[test]
fn h56_format_string_reflection_tricks() {
    fails("print('{0.__class__}'.format(image))", "AttributeError: access to '__class__' is not allowed");
    fails("print(f'{image.__class__}')", "AttributeError: access to '__class__' is not allowed");
    fails("print('{0.__class__.__mro__}'.format(1))", "AttributeError: access to '__class__' is not allowed");
    fails("print('{image.size}'.format(image=image))", "NotImplementedError: attribute access in format fields");
    fails("print(f'{image.__class__.__init__.__globals__}')", "AttributeError");
}

#[test]
fn h57_reflection_builtins_do_not_exist() {
    for (src, e) in [
        ("vars()", "NameError: name 'vars' is not defined"),
        ("globals()", "NameError: name 'globals' is not defined"),
        ("locals()", "NameError: name 'locals' is not defined"),
        ("type(image)", "NameError: name 'type' is not defined"),
        ("__builtins__['open']", "NameError: name '__builtins__' is not defined"),
        ("getattr(getattr(image, 'crop'), '__self__')", "NameError: name 'getattr' is not defined"),
        ("dir(image)", "NameError: name 'dir' is not defined"),
        ("image.crop.__self__", "AttributeError: access to '__self__' is not allowed"),
        ("np.array(image).__array_interface__", "AttributeError: access to '__array_interface__' is not allowed"),
    ] {
        fails(src, e);
    }
}

#[test]
fn h58_operator_calls_with_absurd_parameters() {
    fails("blocky(image, block=10**9)", "TypeError: invalid arguments for `blocky`");
    fails("blocky(image, scale=10**400)", "OverflowError");
    fails("blocky(image, scale=[1] * 100000)", "TypeError");
    fails("blocky(image, scale={'a': image})", "TypeError");
    fails("import numpy as np\nblocky(np.zeros((4, 4)))", "TypeError: Cannot handle this data type: float32");
}

#[test]
fn h59_fromarray_and_dtype_misuse() {
    fails("import numpy as np\nImage.fromarray(np.zeros((4, 4)))", "TypeError: Cannot handle this data type: float32");
    fails("import numpy as np\nImage.fromarray(np.zeros((4, 4, 5), dtype=np.uint8))", "TypeError: Cannot handle this data type");
    fails("import numpy as np\nImage.fromarray(np.zeros((0, 4), dtype=np.uint8))", "ValueError");
    fails("import numpy as np\nImage.fromarray([1, 2])", "TypeError");
    fails("import numpy as np\nnp.zeros((2, 2, 2, 2))", "NotImplementedError");
    fails("import numpy as np\nnp.zeros(-1)", "ValueError: negative dimensions");
    // `np.complex128` is a dtype name (not a function), just not one this sandbox stores.
    fails("import numpy as np\nnp.zeros(3).astype(np.complex128)", "TypeError: data type 'complex128' is not supported in this sandbox");
    fails("import numpy as np\nnp.zeros(3).astype(len)", "TypeError: data type not understood");
    fails("import numpy as np\nnp.zeros(3).astype('complex128')", "TypeError: data type 'complex128'");
}

#[test]
fn h60_array_indexing_errors() {
    let pre = "import numpy as np\na = np.array(image)\n";
    fails(&format!("{pre}a[100, 0]"), "IndexError: index 100 is out of bounds for axis 0 with size 48");
    fails(&format!("{pre}a[0, 0, 0, 0]"), "IndexError: too many indices");
    fails(&format!("{pre}a['x']"), "NotImplementedError");
    fails(&format!("{pre}a[::0]"), "ValueError: slice step cannot be zero");
    fails(&format!("{pre}a[0, 0, 0] + 'x'"), "TypeError");
    fails(&format!("{pre}np.zeros((3, 4)) + np.zeros(5)"), "ValueError: operands could not be broadcast together");
    fails(&format!("{pre}a << 2"), "NotImplementedError");
    fails(&format!("{pre}np.mean(a, axis=3)"), "ValueError: axis 3 is out of bounds for array of dimension 3");
}

#[test]
fn h61_draw_and_filter_misuse() {
    fails("from PIL import ImageDraw\nd = ImageDraw.Draw(image.crop((0, 0, 5, 5)))", "NotImplementedError: ImageDraw.Draw() needs an image variable");
    fails("from PIL import ImageDraw\nx = 5\nd = ImageDraw.Draw(x)", "TypeError");
    fails("from PIL import ImageDraw\nc = image.copy()\nd = ImageDraw.Draw(c)\nd.ellipse((0, 0, 5, 5))", "AttributeError");
    fails("from PIL import ImageDraw\nc = image.copy()\nd = ImageDraw.Draw(c)\nc = 5\nd.line((0, 0, 1, 1))", "TypeError");
    fails("from PIL import ImageDraw\nc = image.copy()\nImageDraw.Draw(c).line((0, 0, 1, 1), fill='notacolor')", "ValueError: unknown color");
    fails("from PIL import ImageFilter\nimage.filter(ImageFilter.MedianFilter(1000))", "ValueError");
    fails("from PIL import ImageFilter\nimage.filter(ImageFilter.MedianFilter(4))", "ValueError");
    fails("from PIL import ImageFilter\nimage.filter(ImageFilter.GaussianBlur(float('inf')))", "ValueError");
    fails("from PIL import ImageFilter\nimage.filter(ImageFilter.Kernel((3, 3), [1] * 9))", "NotImplementedError");
    let t = Instant::now();
    ok("from PIL import ImageFilter\nx = image.filter(ImageFilter.GaussianBlur(10**9))\ny = image.filter(ImageFilter.BoxBlur(10**9))");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn h62_drawing_in_a_loop_is_budgeted() {
    fails(
        "from PIL import ImageDraw\nc = image.copy()\nd = ImageDraw.Draw(c)\nfor i in range(10**6):\n    d.line((0, 0, 63, 47), width=50)",
        "TimeoutError: step budget exhausted",
    );
}

#[test]
fn h78_huge_crop_boxes_are_memory_errors_not_allocations() {
    let t = Instant::now();
    fails("c = image.crop((0, 0, 10**9, 10))", "MemoryError: a 1000000000x10 image exceeds the sandbox image size limit (max side 8192, max 40000000 pixels) (line 1)");
    fails("c = image.crop((-10**18, 0, 10**18, 1))", "MemoryError: a 2000000000000000000x1 image exceeds the sandbox image size limit");
    fails("c = image.crop((0, 0, 8000, 8000))", "MemoryError: a 8000x8000 image exceeds the sandbox image size limit");
    // A sandbox limit: `except` does not catch it.
    fails("try:\n    c = image.crop((-5000, -5000, 5000, 5000))\nexcept Exception:\n    print('caught')", "MemoryError: a 10000x10000 image");
    assert!(t.elapsed() < Duration::from_secs(2), "no giant allocation");
    let mut st = state();
    let mut ex = PvrExecutor::new(PvrLimits { max_created_pixels: 1_000_000, ..PvrLimits::default() });
    let obs = ex.execute(&code("c = image.crop((0, 0, 2000, 1000))"), &mut st);
    assert_eq!(obs.error.as_deref(), Some("MemoryError: a 2000x1000 image exceeds the image memory budget of 1000000 pixels per action (line 1)"));
    let obs = ex.execute(&code("keep = []\nfor i in range(10):\n    keep.append(image.crop((-500, -500, 500, 0)))"), &mut st);
    assert_eq!(obs.error.as_deref(), Some("MemoryError: image memory budget of 1000000 pixels per action exhausted (line 3)"));
}

#[test]
fn h79_empty_crops_flow_through_without_panics() {
    // Pillow allows 0-width crops; every operation on one must come back
    // as a result or a Python error, never a sandbox bug.
    let out = ok("z = image.crop((5, 5, 5, 10))\nd = ImageDraw.Draw(z)\nd.rectangle((0, 0, 3, 3), fill='red')\nd.line((0, 0, 3, 3))\n\
                  print(z.size, z.resize((4, 4)).size, z.rotate(30).size, z.transpose(Image.ROTATE_90).size, z.convert('L').size)\n\
                  print(z.filter(ImageFilter.GaussianBlur(2)).size, z.filter(ImageFilter.MedianFilter(3)).size, z.filter(ImageFilter.FIND_EDGES).size)\n\
                  print(ImageEnhance.Sharpness(z).enhance(2).size, ImageOps.autocontrast(z).size, ImageOps.invert(z).size)\n\
                  a = np.array(z)\nprint(a.shape, a.sum(), a.mean(), (a > 0).sum(), a.max(axis=0).shape)");
    assert_eq!(out, "(0, 5) (4, 4) (0, 5) (5, 0) (0, 5)\n(0, 5) (0, 5) (0, 5)\n(0, 5) (0, 5) (0, 5)\n(5, 0, 3) 0 nan 0 (0, 3)");
    fails("z = image.crop((5, 5, 5, 10))\nz.show()", "ValueError: cannot show an empty 0x5 image");
    fails("result = image.crop((5, 5, 5, 5))", "ValueError: cannot show an empty 0x0 image");
    fails("plt.imshow(image.crop((5, 5, 9, 5)))\nplt.show()", "ValueError: cannot show an empty 4x0 image");
    fails("blocky(image.crop((5, 5, 5, 10)))", "ValueError: blocky() needs a non-empty image, got 0x5");
    fails("z = image.crop((5, 5, 5, 10))\nz.getpixel((0, 0))", "IndexError: image index out of range");
    fails("np.array(image.crop((5, 5, 5, 10))).max()", "ValueError: zero-size array to reduction operation maximum which has no identity");
}

#[test]
fn h80_unsupported_modules_and_attributes_name_the_module() {
    let hint = "is not supported by the embedded interpreter (use --backend python)";
    fails("import numpy as np\nx = np.random.randint(0, 10)", &format!("NotImplementedError: numpy.random {hint} (line 2)"));
    fails("np.random.seed(0)", &format!("NotImplementedError: numpy.random {hint}"));
    fails("n = np.linalg.norm(np.array(image))", &format!("NotImplementedError: numpy.linalg {hint}"));
    fails("h = np.histogram(np.array(image))", &format!("NotImplementedError: numpy.histogram {hint}"));
    fails("import math\nmath.comb(5, 2)", &format!("NotImplementedError: math.comb {hint}"));
    fails("cmap = plt.cm.gray", &format!("NotImplementedError: matplotlib.pyplot.cm.gray {hint}"));
    fails("np.array(image).tofile('x')", &format!("NotImplementedError: ndarray.tofile {hint}"));
    let jail = "is not available in the embedded interpreter; run with --backend python (real CPython in a jail)";
    fails("import cv2", &format!("ImportError: import of 'cv2' {jail} (line 1)"));
    fails("import scipy.ndimage as ndi", &format!("ImportError: import of 'scipy.ndimage' {jail}"));
    fails("from skimage import filters", &format!("ImportError: import of 'skimage' {jail}"));
    fails("from numpy.random import randint", &format!("ImportError: import of 'numpy.random' {jail}"));
    fails("from numpy import random", "ImportError: cannot import name 'random' from 'numpy': not available in the embedded interpreter; run with --backend python");
    fails("from PIL import ImageChops", "ImportError: cannot import name 'ImageChops' from 'PIL': not available in the embedded interpreter");
    // Unsupported dtypes are named as dtypes, not as functions.
    fails("x = np.zeros(3, dtype=np.uint16)", "TypeError: data type 'uint16' is not supported in this sandbox (bool, uint8, int32, float32)");
    // Comparison errors name the operator that failed.
    fails("x = 'a' > 3", "TypeError: '>' not supported between instances of 'str' and 'int'");
    fails("x = image >= 3", "TypeError: '>=' not supported between instances of 'Image' and 'int'");
    fails("x = np.array(image) > 'a'", "TypeError: '>' not supported between instances of 'numpy.ndarray' and 'str'");
}

#[test]
fn h81_mask_and_axis_misuse() {
    let pre = "a = np.array(image)\ng = np.array(image.convert('L'))\nm = g > 100\n";
    fails(&format!("{pre}if m:\n    pass"), "ValueError: The truth value of an array with more than one element is ambiguous. Use a.any() or a.all() (line 4)");
    fails(&format!("{pre}x = m and m"), "ValueError: The truth value of an array");
    fails(&format!("{pre}x = [1 for v in [1] if m]"), "ValueError: The truth value of an array");
    fails(&format!("{pre}while g > 3:\n    pass"), "ValueError: The truth value of an array");
    fails(&format!("{pre}x = a[np.array([1, 2])]"), "NotImplementedError: integer-array indexing (an index array of dtype int32) is not supported");
    fails(&format!("{pre}x = a[m[:10]]"), "IndexError: boolean index did not match indexed array along axis 0; size of axis is 48 but size of corresponding boolean axis is 10");
    fails(&format!("{pre}x = a[m, 0]"), "NotImplementedError: a boolean mask must be the only index");
    fails(&format!("{pre}a[0] = 5"), "NotImplementedError: numpy item assignment is only supported with a boolean mask");
    fails(&format!("{pre}a[m] = [1, 2]"), "ValueError: NumPy boolean array indexing assignment cannot assign 2 input values to the 5391 output values where the mask is true");
    fails(&format!("{pre}Image.fromarray(m)"), "NotImplementedError: Image.fromarray() of a bool array (mode '1') is not supported");
    fails(&format!("{pre}x = ~a.astype(np.float32)"), "TypeError: ufunc 'invert' not supported for the input types");
    fails(&format!("{pre}x = a.astype(np.float32) | 1"), "TypeError: ufunc 'bitwise_or' not supported");
    fails(&format!("{pre}x = np.where(m, 1)"), "ValueError: either both or neither of x and y should be given");
    fails(&format!("{pre}x = g.mean(axis=(0, 0))"), "ValueError: duplicate value in 'axis'");
    fails(&format!("{pre}x = g.mean(axis=1.5)"), "TypeError: 'float' object cannot be interpreted as an integer");
    fails(&format!("{pre}x = g.sum(axis=-3)"), "ValueError: axis -3 is out of bounds for array of dimension 2");
    fails(&format!("{pre}x = np.max(np.zeros((0, 3)), axis=0)"), "ValueError: zero-size array to reduction operation maximum which has no identity");
    fails(&format!("{pre}x = g.sum(axis=0, out=g)"), "NotImplementedError: sum(out=...) is not supported");
    fails(&format!("{pre}x = np.zeros((400, 400)).tolist()"), "MemoryError: tolist() of 160000 elements exceeds the sandbox limit of 100000");
    // Comparisons, masks and reductions are budgeted like other arrays.
    fails("x = np.zeros((20000, 1)) > np.zeros((1, 20000))", "MemoryError: an array of 400000000 elements");
    let mut st = state();
    let mut ex = PvrExecutor::new(PvrLimits { max_created_pixels: 1_000_000, ..PvrLimits::default() });
    let obs = ex.execute(&code("a = np.array(image)\nfor i in range(200):\n    m = a > i"), &mut st);
    assert_eq!(obs.error.as_deref(), Some("MemoryError: image memory budget of 1000000 pixels per action exhausted (line 3)"));
}
