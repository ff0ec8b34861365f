//! Benign programs using `while`, helper functions (`def`/`return`, defaults,
//! keywords, recursion, closures), `lambda` keys and `try`/`except`, written
//! the way models write them, with exact outputs. The test image is
//! `[4x, 5y, x + y]`.

use trutheye_core::Executor;
use trutheye_sandbox::{PvrExecutor, PvrLimits};

use crate::common::*;

#[test]
fn b68_helper_crop_with_default_box_and_keywords() {
    let t = ok("def zoom(img, box=(0, 0, 16, 12), factor=2):\n    c = img.crop(box)\n    return c.resize((c.width * factor, c.height * factor))\n\n\
                a = zoom(image)\nb = zoom(image, (10, 10, 20, 20), factor=3)\nc = zoom(factor=1, img=image, box=(5, 6, 7, 8))\n\
                print(a.size, b.size, c.size, c.getpixel((1, 1)))");
    assert_eq!(t, "(32, 24) (30, 30) (2, 2) (24, 35, 13)");
}

#[test]
fn b69_lambda_sort_of_operator_regions() {
    let t = ok("w, h = image.size\nscores = []\nfor y in range(0, h, 24):\n    for x in range(0, w, 32):\n\
                \x20       r = blocky(image.crop((x, y, x + 32, y + 24)))\n        scores.append((x, y, r['stats']['mean_r']))\n\
                ranked = sorted(scores, key=lambda s: s[2], reverse=True)\nprint(ranked[0], ranked[-1])\n\
                print(max(scores, key=lambda s: (s[2], s[1])), min(scores, key=lambda s: s[2]))");
    // The operator's own report (four runs) comes first.
    assert_eq!(t.matches("[blocky on derived 32x24 image]").count(), 4);
    assert!(t.ends_with("\n(32, 0, 190.0) (0, 24, 62.0)\n(32, 24, 190.0) (0, 0, 62.0)"), "{t}");
}

#[test]
fn b70_while_loop_scanning_tiles() {
    let t = ok("x = 0\ntiles = []\nwhile x + 16 <= image.width:\n    tiles.append(image.crop((x, 0, x + 16, 16)).getpixel((0, 0)))\n    x += 16\nprint(len(tiles), tiles)");
    assert_eq!(t, "4 [(0, 0, 0), (64, 0, 16), (128, 0, 32), (192, 0, 48)]");
}

#[test]
fn b71_while_break_else() {
    let src = "def first_row(img, min_green):\n    y = 0\n    while y < img.height:\n        if img.getpixel((0, y))[1] >= min_green:\n            break\n        y += 1\n    else:\n        y = -1\n    return y\nprint(first_row(image, 100), first_row(image, 250))";
    assert_eq!(ok(src), "20 -1");
}

#[test]
fn b72_try_except_around_a_bad_crop() {
    let t = ok("def safe_crop(img, box):\n    try:\n        return img.crop(box)\n    except ValueError as e:\n        print('bad box', box, '->', e)\n        return None\n\
                print(safe_crop(image, (30, 30, 10, 10)))\nprint(safe_crop(image, (0, 0, 8, 8)).size)");
    assert!(t.starts_with("bad box (30, 30, 10, 10) -> Coordinate 'right' is less than 'left'"), "{t}");
    assert!(t.ends_with("\nNone\n(8, 8)"), "{t}");
}

#[test]
fn b73_recursive_quadtree_split() {
    let t = ok("def split(box, depth):\n    x0, y0, x1, y1 = box\n    if depth == 0:\n        return [box]\n    mx, my = (x0 + x1) // 2, (y0 + y1) // 2\n    out = []\n\
                \x20   for b in [(x0, y0, mx, my), (mx, y0, x1, my), (x0, my, mx, y1), (mx, my, x1, y1)]:\n        out += split(b, depth - 1)\n    return out\n\
                boxes = split((0, 0, 64, 48), 2)\nprint(len(boxes), boxes[0], boxes[-1], image.crop(boxes[5]).getpixel((0, 0)))");
    assert_eq!(t, "16 (0, 0, 16, 12) (48, 36, 64, 48) (192, 0, 48)");
}

#[test]
fn b74_global_counter_and_memo_dict() {
    let t = ok("count = 0\nmemo = {}\ndef fib(n):\n    global count\n    count += 1\n    if n in memo:\n        return memo[n]\n\
                \x20   v = n if n < 2 else fib(n - 1) + fib(n - 2)\n    memo[n] = v\n    return v\nprint(fib(40), len(memo), count)");
    assert_eq!(t, "102334155 41 79");
}

#[test]
fn b75_try_except_else_finally_order() {
    let t = ok("log = []\ndef check(v):\n    if v < 0:\n        raise ValueError(f'negative: {v}')\n    return v\n\
                for v in [1, -2]:\n    try:\n        check(v)\n    except ValueError as e:\n        log.append(str(e))\n    else:\n        log.append('ok')\n    finally:\n        log.append('done')\nprint(log)");
    assert_eq!(t, "['ok', 'done', 'negative: -2', 'done']");
}

#[test]
fn b76_exception_classes_bases_and_tuples() {
    let t = ok("tests = [lambda: [1][5], lambda: {'a': 1}['b'], lambda: 1 // 0, lambda: int('x'), lambda: undefined_thing, lambda: image.nope]\n\
                for f in tests:\n    try:\n        f()\n    except LookupError as e:\n        print('lookup', e)\n    except (ArithmeticError, ValueError) as e:\n        print('value', e)\n    except Exception as e:\n        print('other', e.args)");
    assert_eq!(
        t,
        "lookup list index out of range\nlookup 'b'\nvalue integer division or modulo by zero\n\
         value invalid literal for int() with base 10: 'x'\nother (\"name 'undefined_thing' is not defined\",)\nother (\"'Image' object has no attribute 'nope'\",)"
    );
}

#[test]
fn b77_max_min_key_with_dict_get_and_map_filter() {
    let t = ok("scores = {'left': 3.5, 'right': 7.25, 'top': 1.0}\nprint(max(scores, key=scores.get), min(scores, key=lambda k: scores[k]))\n\
                boxes = [(0, 0, 8, 8), (8, 8, 24, 16), (40, 0, 64, 48)]\nprint(list(map(lambda b: image.crop(b).size, boxes)))\n\
                pix = [image.getpixel((x, 10)) for x in range(0, 64, 16)]\nprint(list(filter(lambda p: sum(p) > 150, pix)), list(map(max, [1, 5], [4, 2])))");
    assert_eq!(t, "right top\n[(8, 8), (16, 8), (24, 48)]\n[(128, 50, 42), (192, 50, 58)] [4, 5]");
}

#[test]
fn b78_closure_over_enclosing_locals() {
    let t = ok("def rank(regions, col, top=2):\n    key = lambda r: r[col]\n    def area(r):\n        return (r[2] - r[0]) * (r[3] - r[1])\n\
                \x20   best = sorted(regions, key=key, reverse=True)[:top]\n    return best, [area(r) for r in best]\n\
                regions = [(0, 0, 10, 10), (5, 5, 40, 30), (20, 0, 30, 5)]\nprint(rank(regions, 2))\nprint(rank(regions, 0, top=1))");
    assert_eq!(t, "([(5, 5, 40, 30), (20, 0, 30, 5)], [875, 50])\n([(20, 0, 30, 5)], [50])");
}

#[test]
fn b79_list_sort_with_key_in_place() {
    let t = ok("regions = [(0, 0, 10, 10), (5, 5, 40, 30), (20, 0, 30, 5)]\nregions.sort(key=lambda r: (r[2] - r[0]) * (r[3] - r[1]))\nprint(regions)\n\
                def largest_first(rs):\n    rs.sort(key=lambda r: r[2] - r[0], reverse=True)\n    return rs\nprint(largest_first(regions))");
    assert_eq!(t, "[(20, 0, 30, 5), (0, 0, 10, 10), (5, 5, 40, 30)]\n[(5, 5, 40, 30), (20, 0, 30, 5), (0, 0, 10, 10)]");
}

#[test]
fn b80_varargs_keyword_only_and_operator_calls() {
    let t = ok("def analyse(img, *boxes, scale=1.0):\n    return [blocky(img.crop(b), scale=scale)['stats']['mean_r'] for b in boxes]\n\
                def describe(**info):\n    return ', '.join(f'{k}={v}' for k, v in info.items())\n\
                print(analyse(image, (0, 0, 8, 8), (56, 0, 64, 8), scale=0.5))\nprint(describe(w=image.width, h=image.height), analyse(image))");
    assert_eq!(t.matches("[blocky on derived 8x8 image]").count(), 2);
    assert!(t.ends_with("\n[7.0, 119.0]\nw=64, h=48 []"), "{t}");
}

#[test]
fn b81_helpers_persist_across_turns() {
    let mut st = state();
    let mut ex = PvrExecutor::new(PvrLimits::default());
    let o1 = ex.execute(&code("def center_crop(img, side=16):\n    cx, cy = img.width // 2, img.height // 2\n    return img.crop((cx - side // 2, cy - side // 2, cx + side // 2, cy + side // 2))\nprint('defined')"), &mut st);
    assert_eq!(o1.text, "defined");
    let o2 = ex.execute(&code("result = center_crop(image, side=8)\nprint(result.getpixel((0, 0)))"), &mut st);
    assert!(o2.error.is_none(), "{}", o2.text);
    assert_eq!(o2.text, "(112, 100, 48)\n[shown as image_clue_1: 8x8]");
    assert_eq!(o2.bbox_candidate, Some([28, 20, 36, 28]));
}

#[test]
fn b82_numpy_and_drawing_inside_helpers() {
    let t = ok("import numpy as np\nfrom PIL import ImageDraw\ndef mean_red(img):\n    return float(np.array(img)[:, :, 0].mean())\n\
                def mark(img, box):\n    c = img.copy()\n    d = ImageDraw.Draw(c)\n    d.rectangle(box, outline='red')\n    return c\n\
                m = mark(image, (2, 2, 10, 10))\nprint(mean_red(image.crop((0, 0, 8, 8))), m.getpixel((2, 2)), m.getpixel((5, 5)), image.getpixel((2, 2)))");
    assert_eq!(t, "14.0 (255, 0, 0) (20, 25, 10) (8, 10, 4)");
}

#[test]
fn b83_defaults_evaluated_once_and_try_finally_return() {
    let t = ok("k = 2\ndef scale(v, f=k):\n    return v * f\nk = 10\nprint(scale(3), scale(3, k))\n\
                def f():\n    try:\n        return 'body'\n    finally:\n        print('cleanup')\nprint(f())");
    assert_eq!(t, "6 30\ncleanup\nbody");
}

#[test]
fn b84_nested_recursive_helper_reads_enclosing_argument() {
    let t = ok("def count_tiles(box, min_side):\n    def rec(b):\n        w = b[2] - b[0]\n        if w <= min_side:\n            return 1\n\
                \x20       half = b[0] + w // 2\n        return rec((b[0], b[1], half, b[3])) + rec((half, b[1], b[2], b[3]))\n    return rec(box)\n\
                print(count_tiles((0, 0, 64, 48), 16), count_tiles((0, 0, 64, 48), 64))");
    assert_eq!(t, "4 1");
}

#[test]
fn b85_reraise_and_raise_from() {
    let (obs, _) = run("def load(i):\n    try:\n        return image.crop((0, 0, i, i))\n    except ValueError:\n        print('retrying')\n        raise\n\
                        try:\n    load(-1)\nexcept ValueError as e:\n    raise RuntimeError('crop failed') from e");
    assert_eq!(obs.error.as_deref(), Some("RuntimeError: crop failed (line 10)"));
    assert!(obs.text.starts_with("retrying\n"), "{}", obs.text);
}

#[test]
fn b86_while_with_continue_and_functions_as_values() {
    let t = ok("ops = {'double': lambda v: v * 2, 'neg': lambda v: -v}\ndef apply(name, v):\n    return ops[name](v)\n\
                i, out = 0, []\nwhile i < 6:\n    i += 1\n    if i % 2:\n        continue\n    out.append(apply('double' if i < 5 else 'neg', i))\nprint(out, apply)");
    assert_eq!(t, "[4, 8, -6] <function apply>");
}
