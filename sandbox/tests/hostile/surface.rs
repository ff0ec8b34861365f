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
    fails("import numpy as np\nnp.zeros(3).astype(np.complex128)", "TypeError: data type not understood");
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
    fails(&format!("{pre}a % 2"), "NotImplementedError");
    fails(&format!("{pre}np.mean(a, axis=0)"), "NotImplementedError: axis=");
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
