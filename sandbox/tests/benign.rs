//! Benign programs written the way models write PVR turns, with exact outputs.

mod common;
#[path = "benign/surface.rs"]
mod surface;
#[path = "benign/functions.rs"]
mod functions;
#[path = "benign/pillow_numpy.rs"]
mod pillow_numpy;

use common::*;
use trutheye_core::{Action, CodeSource, Executor, ToolKind};
use trutheye_sandbox::{PvrExecutor, PvrLimits};

#[test]
fn b01_print_size() {
    assert_eq!(ok("print(image.size)"), "(64, 48)");
}

#[test]
fn b02_unpack_size_fstring() {
    assert_eq!(ok("w, h = image.size\nprint(f\"width={w}, height={h}\")"), "width=64, height=48");
}

#[test]
fn b03_crop_result_shown_with_candidate() {
    let (obs, st) = run("result = image.crop((10, 5, 30, 25))");
    assert!(obs.error.is_none(), "{}", obs.text);
    assert_eq!(obs.images.len(), 1);
    assert_eq!(obs.text, "[shown as image_clue_1: 20x20]");
    assert_eq!(obs.bbox_candidate, Some([10, 5, 30, 25]));
    let img = &st.images[1].image.rgb;
    assert_eq!((img.width(), img.height()), (20, 20));
    assert_eq!(img.get_pixel(0, 0).0, [40, 25, 15]);
    assert_eq!(st.images[1].region_in_root, Some([10, 5, 30, 25]));
    assert_eq!(obs.tools.len(), 1);
    assert_eq!((obs.tools[0].name.as_str(), obs.tools[0].kind), ("crop", ToolKind::Basic));
}

#[test]
fn b04_crop_of_a_crop_maps_to_root() {
    let (obs, _) = run("a = image.crop((10, 10, 50, 40))\nb = a.crop((5, 5, 15, 15))\nresult = b\nprint(b.size)");
    assert_eq!(obs.bbox_candidate, Some([15, 15, 25, 25]));
    assert_eq!(obs.text, "(10, 10)\n[shown as image_clue_1: 10x10]");
    assert_eq!(obs.images[0].image.rgb.get_pixel(0, 0).0, [60, 75, 30]);
}

#[test]
fn b05_crop_of_shown_crop_in_a_later_turn() {
    let mut st = state();
    let mut ex = PvrExecutor::new(PvrLimits::default());
    let o1 = ex.execute(&code("result = image.crop((8, 8, 40, 40))"), &mut st);
    assert!(o1.error.is_none());
    let o2 = ex.execute(&code("result = image_clue_1.crop((2, 2, 10, 10))"), &mut st);
    assert_eq!(o2.bbox_candidate, Some([10, 10, 18, 18]));
    assert_eq!(st.images.len(), 3);
}

#[test]
fn b06_zoom_crop_with_lanczos() {
    let (obs, st) = run(
        "from PIL import Image\ncrop = image.crop((0, 0, 16, 12))\nresult = crop.resize((crop.width * 4, crop.height * 4), Image.LANCZOS)",
    );
    assert!(obs.error.is_none(), "{}", obs.text);
    assert_eq!((st.images[1].image.width(), st.images[1].image.height()), (64, 48));
    let names: Vec<&str> = obs.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["crop", "resize"]);
}

#[test]
fn b07_rotate_90_expand() {
    let t = ok("r = image.rotate(90, expand=True)\nprint(r.size)\nprint(r.getpixel((0, 0)) == image.getpixel((63, 0)))");
    assert_eq!(t, "(48, 64)\nTrue");
}

#[test]
fn b08_rotate_45_expand_size() {
    assert_eq!(ok("print(image.rotate(45, expand=True).size, image.rotate(30).size)"), "(80, 80) (64, 48)");
}

#[test]
fn b09_enhance_brightness_pixels() {
    let t = ok("from PIL import ImageEnhance\nb = ImageEnhance.Brightness(image).enhance(0.5)\nprint(b.getpixel((10, 10)))\nsame = ImageEnhance.Contrast(image).enhance(1.0)\nprint(same.getpixel((10, 10)) == image.getpixel((10, 10)))");
    assert_eq!(t, "(20, 25, 10)\nTrue");
}

#[test]
fn b10_grayscale() {
    assert_eq!(ok("from PIL import ImageOps\ng = ImageOps.grayscale(image)\nprint(g.mode, g.size, g.getpixel((10, 10)))"), "L (64, 48) 44");
}

#[test]
fn b11_numpy_shape_of_grey() {
    assert_eq!(ok("import numpy as np\narr = np.array(image.convert('L'))\nprint(arr.shape)"), "(48, 64)");
}

#[test]
fn b12_numpy_stats() {
    assert_eq!(ok("import numpy as np\narr = np.array(image)\nprint(arr.shape, arr.max(), arr.min())"), "(48, 64, 3) 252 0");
}

#[test]
fn b13_numpy_mean_formatted() {
    let img = gradient();
    let mean = img.as_raw().iter().map(|&v| v as f64).sum::<f64>() / img.as_raw().len() as f64;
    let t = ok("import numpy as np\nm = np.mean(np.array(image))\nprint(f\"mean intensity: {m:.2f}\")");
    assert_eq!(t, format!("mean intensity: {mean:.2}"));
}

#[test]
fn b14_loop_over_tiles() {
    let t = ok("tiles = []\nfor i in range(2):\n    for j in range(2):\n        tiles.append(image.crop((j * 32, i * 24, (j + 1) * 32, (i + 1) * 24)))\nprint(len(tiles), [t.size for t in tiles])");
    assert_eq!(t, "4 [(32, 24), (32, 24), (32, 24), (32, 24)]");
}

#[test]
fn b15_plt_show() {
    let (obs, st) = run("import matplotlib.pyplot as plt\nplt.figure(figsize=(6, 6))\nplt.imshow(image.crop((0, 0, 32, 32)))\nplt.axis('off')\nplt.title('zoom')\nplt.show()");
    assert!(obs.error.is_none(), "{}", obs.text);
    assert_eq!(obs.images.len(), 1);
    assert_eq!(st.images.len(), 2);
    assert_eq!(obs.text, "[shown as image_clue_1: 32x32]");
}

#[test]
fn b16_unshown_images_stay_out_of_the_episode() {
    let (obs, st) = run("x = image.crop((0, 0, 8, 8))\nprint(x.size)");
    assert_eq!(obs.text, "(8, 8)");
    assert!(obs.images.is_empty());
    assert_eq!(st.images.len(), 1);
}

#[test]
fn b17_variables_persist_between_turns() {
    let mut st = state();
    let mut ex = PvrExecutor::new(PvrLimits::default());
    ex.execute(&code("box = (4, 4, 20, 20)\npatch = image.crop(box)"), &mut st);
    let o = ex.execute(&code("print(box[2] - box[0], patch.size)"), &mut st);
    assert_eq!(o.text, "16 (16, 16)");
    assert!(ex.variables().contains(&"patch".to_string()));
}

#[test]
fn b18_operator_call() {
    let (obs, st) = run("res = blocky(image)\nprint(res['stats']['n'], res['regions'])");
    assert!(obs.error.is_none(), "{}", obs.text);
    assert!(obs.text.starts_with("[blocky on image_clue_0] mean red 126.0"), "{}", obs.text);
    assert!(obs.text.ends_with("3072 [[2, 3, 10, 12]]"), "{}", obs.text);
    assert_eq!(obs.images.len(), 1, "the map is shown");
    assert_eq!(st.images.len(), 2);
    assert_eq!(obs.bbox_candidate, Some([2, 3, 10, 12]));
    assert_eq!(obs.tools.last().map(|t| t.kind), Some(ToolKind::Forensic));
    // The run as data, and the text the model read rendered from it.
    assert_eq!(obs.evidence.len(), 1);
    let ev = &obs.evidence[0];
    assert_eq!((ev.operator.as_str(), ev.image.as_str(), ev.number("n")), ("blocky", "image_clue_0", Some(3072.0)));
    assert_eq!(ev.root_regions().first().map(|r| (r.bbox, r.score)), Some(([2, 3, 10, 12], 3.5)));
    assert!(obs.text.starts_with(&trutheye_core::observe::render_evidence(ev)), "{}", obs.text);
}

#[test]
fn b19_operator_on_crop_maps_regions_to_root() {
    let (obs, _) = run("c = image.crop((10, 10, 60, 40))\nr = blocky(c)\nprint(r['regions'][0])");
    assert!(obs.error.is_none(), "{}", obs.text);
    assert_eq!(obs.bbox_candidate, Some([12, 13, 20, 22]));
    assert!(obs.text.ends_with("[12, 13, 20, 22]"), "{}", obs.text);
    assert!(obs.text.contains("[12, 13, 20, 22] z=3.5"), "{}", obs.text);
    assert_eq!(obs.evidence.iter().flat_map(|e| e.root_regions()).map(|r| r.bbox).next(), Some([12, 13, 20, 22]));
}

#[test]
fn b20_operator_params() {
    let t = ok("r = blocky(image, scale=2.0)\nprint(r['stats']['mean_r'])");
    assert!(t.ends_with("252.0"), "{t}");
}

#[test]
fn b21_float_and_int_semantics() {
    assert_eq!(
        ok("print(0.1 + 0.2, 1 / 3, 2.0, 1e20, 10 / 2, 1e-5)\nprint(7 // 2, -7 // 2, -7 % 3, 7 % -3, 2 ** 10, 2 ** -1, -7.5 // 2)"),
        "0.30000000000000004 0.3333333333333333 2.0 1e+20 5.0 1e-05\n3 -4 2 -2 1024 0.5 -4.0"
    );
}

#[test]
fn b22_container_reprs() {
    assert_eq!(ok("print((1,), [1, 'a', None, True], {'a': 1.5}, (), \"it's\")"), "(1,) [1, 'a', None, True] {'a': 1.5} () it's");
    assert_eq!(ok("print(repr('a'), str([\"x'y\"]))"), "'a' [\"x'y\"]");
}

#[test]
fn b23_if_elif_else() {
    let src = "w, h = image.size\nif w > 100:\n    print('large')\nelif w > 50:\n    print('medium')\nelse:\n    print('small')";
    assert_eq!(ok(src), "medium");
}

#[test]
fn b24_break_continue() {
    assert_eq!(ok("out = []\nfor i in range(10):\n    if i % 2:\n        continue\n    if i > 6:\n        break\n    out.append(i)\nprint(out)"), "[0, 2, 4, 6]");
}

#[test]
fn b25_math() {
    assert_eq!(ok("import math\nprint(math.sqrt(16), math.floor(2.7), math.ceil(2.1), round(2.5), round(3.14159, 2), math.pi)"), "4.0 2 3 2 3.14 3.141592653589793");
}

#[test]
fn b26_string_methods() {
    assert_eq!(ok("print(', '.join(['a', 'b']), 'x'.upper(), '{} px'.format(5), 'a-b-c'.split('-'), '  s '.strip())"), "a, b X 5 px ['a', 'b', 'c'] s");
}

#[test]
fn b27_transpose_flip() {
    assert_eq!(ok("from PIL import Image\nf = image.transpose(Image.FLIP_LEFT_RIGHT)\nprint(f.getpixel((0, 0)))"), "(252, 0, 63)");
    assert_eq!(ok("f = image.transpose(Image.Transpose.ROTATE_90)\nprint(f.size)"), "(48, 64)");
}

#[test]
fn b28_imageops_mirror_flip() {
    assert_eq!(ok("from PIL import ImageOps\nprint(ImageOps.mirror(image).getpixel((0, 0)), ImageOps.flip(image).getpixel((0, 0)))"), "(252, 0, 63) (0, 235, 47)");
}

#[test]
fn b29_autocontrast() {
    assert_eq!(ok("from PIL import ImageOps\nprint(ImageOps.autocontrast(image).getpixel((63, 0)))"), "(255, 0, 146)");
}

#[test]
fn b30_invert() {
    assert_eq!(ok("from PIL import ImageOps\nprint(ImageOps.invert(image).getpixel((1, 1)))"), "(251, 250, 253)");
}

#[test]
fn b31_smooth_filter() {
    assert_eq!(ok("from PIL import ImageFilter\ns = image.filter(ImageFilter.SMOOTH)\nprint(s.size, s.getpixel((0, 0)))"), "(64, 48) (0, 0, 0)");
}

#[test]
fn b32_chained_comparisons_and_bool_ops() {
    assert_eq!(ok("print(0 < 5 < 10, 1 < 0 < 2, 1 and 2, 0 or 'x', not None, 3 in [1, 3], 'a' not in 'bcd')"), "True False 2 x True True True");
}

#[test]
fn b33_builtins() {
    assert_eq!(
        ok("v = [3, 1, 2]\nprint(sorted(v), sorted(v, reverse=True), sum(v), min(v), max(4, 9), abs(-2.5), list(enumerate('ab')), list(zip([1, 2], 'xy')))"),
        "[1, 2, 3] [3, 2, 1] 6 1 9 2.5 [(0, 'a'), (1, 'b')] [(1, 'x'), (2, 'y')]"
    );
    assert_eq!(ok("print(int('12') + int(3.9), float('1.5'), str(7) + 'px', len(range(0, 10, 3)), any([0, 1]), all([]))"), "15 1.5 7px 4 True True");
}

#[test]
fn b34_list_comprehension() {
    assert_eq!(ok("sizes = [image.crop((0, 0, s, s)).size for s in (8, 16) if s > 4]\nprint(sizes)"), "[(8, 8), (16, 16)]");
}

#[test]
fn b35_augmented_assignment() {
    assert_eq!(ok("total = 0\nfor i in range(10):\n    total += i\ns = 'a'\ns *= 3\nprint(total, s)"), "45 aaa");
}

#[test]
fn b36_imports() {
    let src = "from PIL import Image, ImageEnhance, ImageOps, ImageFilter\nimport numpy as np\nimport matplotlib.pyplot as plt\nimport math\nimport PIL\nprint(PIL.Image.ROTATE_90, type_ok := 1) if False else print('ok')";
    // The walrus is not supported; the import part must still be accepted on its own.
    assert!(run(src).0.error.is_some());
    assert_eq!(ok("from PIL import Image, ImageEnhance, ImageOps, ImageFilter\nimport numpy as np\nimport matplotlib.pyplot as plt\nimport math\nimport PIL.Image\nprint(PIL.Image.ROTATE_90)"), "2");
}

#[test]
fn b37_output_variable_is_shown() {
    let (obs, _) = run("from PIL import ImageEnhance\noutput = ImageEnhance.Sharpness(image).enhance(2.0)");
    assert!(obs.error.is_none(), "{}", obs.text);
    assert_eq!(obs.images.len(), 1);
    assert_eq!(obs.text, "[shown as image_clue_1: 64x48]");
}

#[test]
fn b38_aliases() {
    assert_eq!(ok("print(img.size == image_clue_0.size, image.mode, img.width, img.height)"), "True RGB 64 48");
}

#[test]
fn b39_multi_step_zoom() {
    let src = "from PIL import Image, ImageEnhance\nregion = image.crop((16, 12, 48, 36))\nzoomed = region.resize((region.width * 2, region.height * 2), Image.BICUBIC)\nresult = ImageEnhance.Contrast(zoomed).enhance(1.5)\nprint(f'zoomed to {result.size[0]}x{result.size[1]}')";
    let (obs, st) = run(src);
    assert!(obs.error.is_none(), "{}", obs.text);
    assert_eq!(obs.text, "zoomed to 64x48\n[shown as image_clue_1: 64x48]");
    assert_eq!(obs.bbox_candidate, Some([16, 12, 48, 36]));
    assert_eq!(st.images[1].image.width(), 64);
    let names: Vec<&str> = obs.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["crop", "resize", "enhance"]);
}

#[test]
fn b40_display_and_show() {
    let (obs, _) = run("display(image.crop((0, 0, 4, 4)))\nimage.crop((4, 4, 12, 12)).show()");
    assert_eq!(obs.images.len(), 2);
    assert_eq!(obs.text, "[shown as image_clue_1: 4x4]\n[shown as image_clue_2: 8x8]");
}

#[test]
fn b41_comments_blank_lines_semicolons() {
    assert_eq!(ok("# analyse the image\n\nx = 1; y = 2  # two\n\n\nprint(x + y)  # sum\n"), "3");
}

#[test]
fn b42_ternary_and_multiline_brackets() {
    assert_eq!(ok("w, h = image.size\nbox = (\n    0,\n    0,\n    w // 2,\n    h // 2,\n)\nprint('big' if w > 50 else 'small', box)"), "big (0, 0, 32, 24)");
}

#[test]
fn b43_format_specs() {
    assert_eq!(
        ok("print(f\"{3.14159:.3f}|{42:5d}|{0.256:.1%}|{'ab':>4}|{1234567:,}|{7:03d}|{2.5:e}|{0.0001234:g}|{'x'!r}\")"),
        "3.142|   42|25.6%|  ab|1,234,567|007|2.500000e+00|0.0001234|'x'"
    );
}

#[test]
fn b44_string_slicing() {
    assert_eq!(ok("s = 'image_clue_0'\nprint(s[-1], s[:5], s[::-1][:3], s[6:10])"), "0 image 0_e clue");
}

#[test]
fn b45_dict_iteration() {
    assert_eq!(ok("d = {'w': 64, 'h': 48}\nd['c'] = 3\nfor k, v in d.items():\n    print(k, v)\nprint(d.get('x', 0), len(d), list(d))"), "w 64\nh 48\nc 3\n0 3 ['w', 'h', 'c']");
}

#[test]
fn b46_image_index_selects_the_target_image() {
    let mut st = state();
    let other = image::RgbImage::from_pixel(10, 20, image::Rgb([1, 2, 3]));
    st.add(trutheye_core::ImageBuf::derived(other, "second"), None).expect("room");
    let mut ex = PvrExecutor::default();
    let a = Action::Code { code: "print(image.size, image_clue_0.size)".into(), image_index: Some(1), source: CodeSource::Tag };
    assert_eq!(ex.execute(&a, &mut st).text, "(10, 20) (64, 48)");
}

#[test]
fn b47_nested_unpacking_in_for() {
    assert_eq!(ok("for i, (a, b) in enumerate([(1, 2), (3, 4)]):\n    print(i, a * b)"), "0 2\n1 12");
}

#[test]
fn b48_print_sep_end() {
    assert_eq!(ok("print(1, 2, sep='-', end='!')\nprint('x')"), "1-2!x");
}

#[test]
fn b49_crop_partly_outside_keeps_the_requested_size() {
    // As Pillow: the outside part is black, not cut off (more in benign/pillow_numpy.rs).
    assert_eq!(ok("c = image.crop((50, 40, 100, 100))\nprint(c.size, c.getpixel((20, 20)))"), "(50, 60) (0, 0, 0)");
}

#[test]
fn b50_no_output() {
    assert_eq!(ok("x = 1"), "(no output)");
}

#[test]
fn b51_executor_name_and_tool_calls() {
    let mut ex = PvrExecutor::default();
    assert_eq!(ex.name(), "pvr");
    let mut st = state();
    let a = Action::ToolCall { name: "blocky".into(), arguments: Default::default() };
    assert!(ex.execute(&a, &mut st).error.is_some());
}

#[test]
fn b52_grid_scan_with_operator_in_loop() {
    let src = "w, h = image.size\nscores = []\nfor y in range(0, h, 24):\n    for x in range(0, w, 32):\n        r = blocky(image.crop((x, y, x + 32, y + 24)))\n        scores.append(r['stats']['mean_r'])\nprint(scores)";
    let (obs, _) = run(src);
    assert!(obs.error.is_none(), "{}", obs.text);
    assert!(obs.text.ends_with("[62.0, 190.0, 62.0, 190.0]"), "{}", obs.text);
    assert_eq!(obs.tools.iter().filter(|t| t.kind == ToolKind::Forensic).count(), 4);
}

#[test]
fn b53_fstring_debug_and_nested_quotes() {
    assert_eq!(ok("x = 3\nname = 'crop'\nd = {'a': 1}\nprint(f'{x=} {name=} {x = :.1f} {d[\"a\"]} {d!r}')"), "x=3 name='crop' x = 3.0 1 {'a': 1}");
}

#[test]
fn b54_list_item_assignment_and_slices() {
    assert_eq!(ok("x = [1, 2, 3]\nx[0] = 9\nx += [4]\nprint(x, x[-1], x[1:], x[::2], x.pop(), x)"), "[9, 2, 3, 4] 4 [2, 3, 4] [9, 3] 4 [9, 2, 3]");
}

#[test]
fn b55_operator_map_is_returned() {
    let t = ok("r = blocky(image)\nprint(r['map'].size, r['summary'])");
    assert!(t.ends_with("green map shown as image_clue_1 (64x48).\n(64, 48) mean red 126.0"), "{t}");
}
