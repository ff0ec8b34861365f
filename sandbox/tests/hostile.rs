//! Hostile programs: each must come back as a Python-style error (or a
//! truncation) without harming the test process.

mod common;
#[path = "hostile/surface.rs"]
mod surface;
#[path = "hostile/functions.rs"]
mod functions;

use std::time::{Duration, Instant};

use common::*;
use trutheye_core::{ExecLimits, Executor};
use trutheye_sandbox::{PvrExecutor, PvrLimits};

#[test]
fn h01_huge_range_loop_hits_step_budget() {
    fails("for i in range(10**9):\n    pass", "TimeoutError: step budget exhausted");
}

#[test]
fn h02_nested_loops_hit_step_budget() {
    fails("for i in range(1000):\n    for j in range(1000):\n        x = i * j", "TimeoutError");
}

#[test]
fn h03_import_os() {
    fails("import os\nos.system('ls')", "ImportError: import of 'os' is not available in the embedded interpreter; run with --backend python (real CPython in a jail) (line 1)");
}

#[test]
fn h04_other_imports() {
    fails("import subprocess", "ImportError: import of 'subprocess' is not available in the embedded interpreter");
    fails("from os import system", "ImportError: import of 'os' is not available in the embedded interpreter");
    fails("import ctypes as c", "ImportError");
    fails("import PIL.ImageGrab", "ImportError");
    fails("from PIL import ImageGrab", "ImportError: cannot import name 'ImageGrab'");
    fails("import importlib", "ImportError");
}

#[test]
fn h05_dunder_import() {
    fails("__import__('os')", "NameError: name '__import__' is not defined");
}

#[test]
fn h06_open_file() {
    fails("print(open('/etc/passwd').read())", "NameError: name 'open' is not defined");
}

#[test]
fn h07_subclasses_escape() {
    fails("().__class__.__bases__[0].__subclasses__()", "AttributeError: access to '__class__' is not allowed");
}

#[test]
fn h08_getattr_setattr() {
    fails("getattr(image, '__class__')", "NameError: name 'getattr' is not defined");
    fails("setattr(image, 'x', 1)", "NameError");
    fails("globals()['x'] = 1", "NotImplementedError");
    fails("print(vars())", "NameError");
}

#[test]
fn h09_eval_exec_compile() {
    fails("eval('1+1')", "NameError: name 'eval' is not defined");
    fails("exec('x = 1')", "NameError: name 'exec' is not defined");
    fails("compile('1', 'f', 'eval')", "NameError");
    fails("breakpoint()", "NameError");
    fails("input()", "NameError");
}

#[test]
fn h10_percent_formatting() {
    fails("x = 5\nprint('%s' % x)", "TypeError: '%' string formatting is not supported");
}

#[test]
fn h11_giant_string_multiplication() {
    fails("s = 'a' * 10**9", "MemoryError");
}

#[test]
fn h12_tower_exponent() {
    fails("print(10**10**10)", "OverflowError");
    fails("x = 2.0 ** 10000", "OverflowError");
}

#[test]
fn h13_huge_resize() {
    fails("big = image.resize((100000, 100000))", "MemoryError");
}

#[test]
fn h14_rotate_expand_many_times() {
    fails("x = image\nfor i in range(60):\n    x = x.rotate(45, expand=True)", "MemoryError");
}

#[test]
fn h15_deep_parentheses() {
    let src = format!("x = {}1{}", "(".repeat(10_000), ")".repeat(10_000));
    fails(&src, "RecursionError");
}

#[test]
fn h16_deep_lists_and_unary() {
    fails(&format!("x = {}1{}", "[".repeat(10_000), "]".repeat(10_000)), "RecursionError");
    fails(&format!("x = {}1", "-".repeat(10_000)), "RecursionError");
    fails(&format!("x = {}1", "not ".repeat(10_000)), "RecursionError");
}

#[test]
fn h17_long_operator_chain() {
    let src = format!("x = {}", vec!["1"; 5000].join(" + "));
    fails(&src, "RecursionError");
}

#[test]
fn h18_giant_print_is_truncated() {
    let (obs, _) = run("print('x' * 1000000)\nprint('after')");
    assert!(obs.error.is_none());
    assert!(obs.text.ends_with("... [output truncated]"), "{}", &obs.text[obs.text.len() - 60..]);
    assert!(obs.text.len() < 17 * 1024);
}

#[test]
fn h19_many_prints_are_truncated_or_stopped() {
    let (obs, _) = run("for i in range(5000):\n    print('line', i, 'x' * 50)");
    assert!(obs.text.contains("... [output truncated]"));
    assert!(obs.text.len() < 17 * 1024 + 200);
}

#[test]
fn h20_while_true() {
    fails("while True:\n    pass", "TimeoutError: step budget exhausted (200000 evaluation steps) (line 1)");
    fails("x = 1\n\nwhile x:\n    x += 1", "TimeoutError: step budget exhausted");
}

#[test]
fn h21_class_and_unsupported_function_forms() {
    fails("class A:\n    pass", "SyntaxError: class definitions are not supported");
    fails("def f(a, /, b):\n    return a", "SyntaxError: positional-only parameters ('/') are not supported");
    fails("def f(x):\n    def g():\n        nonlocal x\n    return g", "SyntaxError: 'nonlocal' is not supported");
    fails("def f():\n    yield 1", "SyntaxError: generators ('yield') are not supported");
    fails("def f(a=1, b):\n    return a", "SyntaxError: parameter without a default follows parameter with a default");
    fails("def f(a, a):\n    return a", "SyntaxError: duplicate argument 'a' in function definition");
    fails("x = 1 + lambda: 2", "SyntaxError");
    fails("def f(*a):\n    return a\nf(*[1, 2])", "SyntaxError: '*args' / '**kwargs' in calls are not supported");
}

#[test]
fn h22_try_with_global_del() {
    fails("try:\n    x = 1\n", "SyntaxError: expected 'except' or 'finally' block");
    fails("try:\n    pass\nexcept:\n    pass\nexcept ValueError:\n    pass", "SyntaxError: default 'except:' must be last");
    fails("try:\n    pass\nexcept* ValueError:\n    pass", "SyntaxError: 'except*' is not supported");
    fails("with open('x') as f:\n    pass", "SyntaxError: 'with' statements are not supported");
    fails("x = 1\ndel x", "SyntaxError: 'del' is not supported");
    fails("return 1", "SyntaxError: 'return' outside function");
    fails("for i in range(3):\n    return i", "SyntaxError: 'return' outside function (line 2)");
    fails("yield 1", "SyntaxError");
    fails("async def f():\n    pass", "SyntaxError");
    fails("@decorator\ndef f(): pass", "SyntaxError: decorators are not supported");
}

#[test]
fn h23_bad_escapes() {
    fails("s = '\\ud800'", "SyntaxError: (unicode error)");
    fails("s = '\\x4'", "SyntaxError: (unicode error) truncated");
    fails("s = '\\N{BULLET}'", "SyntaxError");
    // Odd but valid escapes are fine.
    assert_eq!(ok("s = '\\xff\\xfe\\u00e9'\nprint(len(s))"), "3");
    fails("b = b'abc'", "SyntaxError: bytes literals are not supported");
}

#[test]
fn h24_unterminated_strings() {
    fails("print(\"abc", "SyntaxError: unterminated string literal");
    fails("s = '''abc\n\nx = 1", "SyntaxError: unterminated triple-quoted string literal");
    fails("s = f'{x'", "SyntaxError: f-string");
    fails("print((1, 2)", "SyntaxError: '(' was never closed");
    fails("print(1))", "SyntaxError: unmatched ')'");
}

#[test]
fn h25_tabs_and_bad_indentation() {
    fails("if True:\n\tx = 1\n        y = 2", "TabError");
    fails("if True:\n    x = 1\n  y = 2", "IndentationError: unindent does not match");
    fails("x = 1\n    y = 2", "IndentationError: unexpected indent");
    fails("if True:\nx = 1", "IndentationError: expected an indented block");
}

#[test]
fn h26_big_lists() {
    fails("x = [0] * 10**6", "MemoryError");
    fails("x = list(range(10**7))", "MemoryError");
    // A comprehension this long runs out of steps before it runs out of room.
    fails("x = [i for i in range(10**6)]", "TimeoutError");
}

#[test]
fn h27_file_system_through_pil() {
    fails("from PIL import Image\nim = Image.open('/etc/passwd')", "PermissionError");
    fails("image.save('/tmp/x.png')", "PermissionError");
    fails("import matplotlib.pyplot as plt\nplt.savefig('/tmp/x.png')", "PermissionError");
}

#[test]
fn h28_dunder_attributes() {
    fails("image.__class__", "AttributeError: access to '__class__' is not allowed");
    fails("x = 1\nx.__dict__", "AttributeError: access to '__dict__' is not allowed");
    fails("print.__self__", "AttributeError");
    fails("image._private", "AttributeError");
    fails("print(__builtins__)", "NameError");
}

#[test]
fn h29_numpy_escape_hatches() {
    fails("import numpy as np\nnp.load('x.npy')", "NotImplementedError: numpy.load is not supported");
    fails("import numpy as np\na = np.array(image)\nprint(a[[0, 1]])", "NotImplementedError");
    fails("import numpy as np\nnp.array(image).tofile('x')", "NotImplementedError");
}

#[test]
fn h30_string_concat_growth() {
    fails("x = 'a' * 1000000\ny = x + x", "MemoryError");
    fails("s = 'ab'\nfor i in range(40):\n    s = s + s", "MemoryError");
}

#[test]
fn h31_integer_overflow() {
    fails("print(2 ** 64)", "OverflowError");
    fails("print(9223372036854775807 + 1)", "OverflowError");
    fails("x = 10**18 * 10", "OverflowError");
    fails("x = 99999999999999999999", "OverflowError");
    fails("x = 1 << 70", "OverflowError");
    fails("import math\nmath.exp(1000)", "OverflowError");
    fails("int(float('inf'))", "OverflowError");
}

#[test]
fn h32_zero_division() {
    fails("print(1 / 0)", "ZeroDivisionError: division by zero");
    fails("print(5 % 0)", "ZeroDivisionError");
}

#[test]
fn h33_bad_crop_box() {
    fails("c = image.crop((30, 30, 10, 10))", "ValueError: Coordinate 'right' is less than 'left'");
    fails("print('ok')\nc = image.crop((30, 30, 10, 10))", "ValueError: Coordinate 'right' is less than 'left'");
    let (obs, _) = run("print('before')\nc = image.crop((30, 30, 10, 10))");
    assert!(obs.text.starts_with("before\nValueError"));
    assert!(obs.text.ends_with("(line 2)"), "{}", obs.text);
    fails("c = image.crop((10, 30, 20, 10))", "ValueError: Coordinate 'lower' is less than 'upper' (line 1)");
    // Pillow compares the coordinates before rounding them.
    fails("c = image.crop((10.4, 0, 10.2, 5))", "ValueError: Coordinate 'right' is less than 'left'");
    fails("image.crop((0, 0, float('nan'), 1))", "ValueError: cannot convert float NaN to integer");
    fails("image.crop((0, 0, float('inf'), 1))", "OverflowError: cannot convert float infinity to integer");
    fails("image.crop((0, 0, 10))", "ValueError");
    fails("image.crop(('a', 0, 1, 1))", "TypeError");
}

#[test]
fn h34_value_nesting() {
    fails("x = []\nfor i in range(200):\n    x = [x]", "RecursionError");
    fails("x = []\nfor i in range(200):\n    x.append(x)", "RecursionError");
}

#[test]
fn h35_break_outside_loop() {
    fails("break", "SyntaxError");
}

#[test]
fn h36_undefined_name_keeps_prior_output() {
    let obs = fails("a = 1\nprint('before')\nundefined_name", "NameError: name 'undefined_name' is not defined (line 3)");
    assert_eq!(obs.text, "before\nNameError: name 'undefined_name' is not defined (line 3)");
}

#[test]
fn h37_invalid_characters() {
    fails("x = 1 $ 2", "SyntaxError: invalid character '$'");
    fails("x = `ls`", "SyntaxError");
    fails("x = 1 ? 2", "SyntaxError");
    fails("x ! = 1", "SyntaxError");
}

#[test]
fn h38_unsupported_modes_and_filters() {
    fails("image.convert('RGBA')", "NotImplementedError");
    fails("from PIL import ImageFilter\nimage.filter(ImageFilter.UnsharpMask(2))", "NotImplementedError");
    fails("from PIL import ImageFilter\nimage.filter(ImageFilter.ModeFilter(3))", "NotImplementedError: ImageFilter.ModeFilter is not available");
    fails("from PIL import ImageDraw\nImageDraw.floodfill(image, (0, 0), 1)", "NotImplementedError");
}

#[test]
fn h39_format_spec_abuse() {
    fails("x = 1\nprint(f\"{x:{'>'}10}\")", "SyntaxError");
    fails("print(f'{1:10000000}')", "ValueError");
    fails("print('{:>99999999}'.format(1))", "ValueError");
    fails("print('{0[0]}'.format([1]))", "IndexError");
}

#[test]
fn h40_star_args_and_walrus() {
    fails("print(*[1, 2])", "SyntaxError");
    fails("print(**{'a': 1})", "SyntaxError");
    fails("if (n := 10) > 5:\n    pass", "SyntaxError");
    fails("x = {1, 2}", "SyntaxError");
}

#[test]
fn h41_non_finite_geometry() {
    fails("image.rotate(float('inf'))", "ValueError");
    fails("image.rotate(float('nan'), expand=True)", "ValueError");
    fails("image.crop((float('nan'), 0, 1, 1))", "ValueError");
    fails("image.resize((0, 10))", "ValueError");
    fails("image.resize((-5, 10))", "ValueError");
    fails("image.resize((10.5, 10))", "TypeError");
}

#[test]
fn h42_image_new_too_large() {
    fails("from PIL import Image\nx = Image.new('RGB', (9000, 9000))", "MemoryError");
}

#[test]
fn h43_episode_image_limit() {
    fails("for i in range(100):\n    display(image.crop((0, 0, 2, 2 + i % 3)))", "MemoryError");
}

#[test]
fn h44_pixel_budget() {
    let mut st = state();
    let mut ex = PvrExecutor::new(PvrLimits { max_created_pixels: 1_000_000, ..PvrLimits::default() });
    let obs = ex.execute(&code("big = []\nfor i in range(100):\n    big.append(image.resize((800, 500)))"), &mut st);
    assert_eq!(obs.error.as_deref(), Some("MemoryError: image memory budget of 1000000 pixels per action exhausted (line 3)"));
}

#[test]
fn h45_assert_and_type_errors() {
    fails("assert False, 'boom'", "AssertionError: boom");
    fails("x = 'a' + 1", "TypeError: can only concatenate str");
    fails("len(5)", "TypeError");
    fails("x = 5\nx()", "TypeError: 'int' object is not callable");
    fails("image.crop()(1)", "TypeError");
    fails("w, h = 1", "TypeError: cannot unpack");
    fails("w, h = (1, 2, 3)", "ValueError: too many values to unpack");
    fails("x = [1][5]", "IndexError");
    fails("x = {'a': 1}['b']", "KeyError: 'b'");
    fails("x = {[1]: 2}", "TypeError: unhashable");
}

#[test]
fn h46_operator_misuse() {
    fails("blocky(image, bogus=1)", "TypeError: invalid arguments for `blocky`");
    fails("blocky(image, 2)", "TypeError");
    fails("blocky('not an image')", "TypeError");
    fails("blocky(image, scale=float('nan'))", "ValueError");
}

#[test]
fn h47_wall_time_limit() {
    let mut st = state();
    let limits = PvrLimits { max_steps: u64::MAX, max_wall: Duration::from_millis(200), ..PvrLimits::default() };
    let mut ex = PvrExecutor::new(limits);
    let t = Instant::now();
    let obs = ex.execute(&code("for i in range(10**18):\n    x = i"), &mut st);
    assert!(obs.error.as_deref().is_some_and(|e| e.starts_with("TimeoutError: wall-time limit")), "{:?}", obs.error);
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[test]
fn h48_code_too_long() {
    let src = "x = 1\n".repeat(20_000);
    fails(&src, "SyntaxError: the program is");
}

#[test]
fn h49_slow_image_loop_is_stopped() {
    let mut st = state_with(ExecLimits::default());
    let limits = PvrLimits { max_wall: Duration::from_millis(500), ..PvrLimits::default() };
    let mut ex = PvrExecutor::new(limits);
    let t = Instant::now();
    let obs = ex.execute(&code("for i in range(100000):\n    x = image.resize((512, 512)).rotate(33)"), &mut st);
    assert!(obs.error.as_deref().is_some_and(|e| e.starts_with("TimeoutError") || e.starts_with("MemoryError")), "{:?}", obs.error);
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn h50_state_survives_errors() {
    let mut st = state();
    let mut ex = PvrExecutor::default();
    let o = ex.execute(&code("a = 5\nimport os"), &mut st);
    assert!(o.error.is_some());
    let o = ex.execute(&code("print(a)"), &mut st);
    assert_eq!(o.text, "5");
}

#[test]
fn h51_long_attribute_and_comprehension_chains() {
    fails(&format!("x = image{}", ".size".repeat(10_000)), "RecursionError");
    fails(&format!("x = image{}", "[0]".repeat(20_000)), "RecursionError");
    fails(&format!("x = f(1){}", "(1)".repeat(20_000)), "RecursionError");
    let clauses: String = (0..300).map(|i| format!(" for v{i} in [1]")).collect();
    fails(&format!("x = [1{clauses}]"), "RecursionError");
    let mut nested = String::from("x = 1\n");
    for d in 0..150 {
        nested += &format!("{}if x:\n", "  ".repeat(d));
    }
    nested += &format!("{}pass\n", "  ".repeat(150));
    fails(&nested, "RecursionError");
}

#[test]
fn h52_fstring_nesting_bombs() {
    let src = format!("x = f'{}1{}'", "{f'".repeat(60), "'}".repeat(60));
    let (obs, _) = run(&src);
    assert!(obs.error.is_some());
    fails(&format!("print(f'{{{}1{}}}')", "(".repeat(500), ")".repeat(500)), "RecursionError");
}
