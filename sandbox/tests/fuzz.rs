//! Deterministic fuzzing: 20,000 mutations (`ITERATIONS`) of a benign corpus must never panic
//! (a panic inside the interpreter would surface as `SystemError`).

mod common;

use std::time::Duration;

use common::*;
use trutheye_core::{ExecLimits, Executor};
use trutheye_sandbox::{PvrExecutor, PvrLimits};

const CORPUS: &[&str] = &[
    "print(image.size)",
    "w, h = image.size\nprint(f\"width={w}, height={h}\")",
    "result = image.crop((10, 5, 30, 25))",
    "a = image.crop((10, 10, 50, 40))\nb = a.crop((5, 5, 15, 15))\nresult = b\nprint(b.size)",
    "from PIL import Image\ncrop = image.crop((0, 0, 16, 12))\nresult = crop.resize((crop.width * 4, crop.height * 4), Image.LANCZOS)",
    "r = image.rotate(90, expand=True)\nprint(r.size)\nprint(r.getpixel((0, 0)) == image.getpixel((63, 0)))",
    "from PIL import ImageEnhance\nb = ImageEnhance.Brightness(image).enhance(0.5)\nprint(b.getpixel((10, 10)))",
    "from PIL import ImageOps\ng = ImageOps.grayscale(image)\nprint(g.mode, g.size, g.getpixel((10, 10)))",
    "import numpy as np\narr = np.array(image)\nprint(arr.shape, arr.max(), arr.min(), f'{arr.mean():.2f}')",
    "tiles = []\nfor i in range(2):\n    for j in range(2):\n        tiles.append(image.crop((j * 32, i * 24, (j + 1) * 32, (i + 1) * 24)))\nprint(len(tiles), [t.size for t in tiles])",
    "import matplotlib.pyplot as plt\nplt.figure(figsize=(6, 6))\nplt.imshow(image.crop((0, 0, 32, 32)))\nplt.axis('off')\nplt.show()",
    "res = blocky(image, scale=2.0)\nprint(res['stats']['n'], res['regions'])",
    "print(0.1 + 0.2, 1 / 3, 7 // 2, -7 % 3, 2 ** 10, (1,), [1, 'a', None], {'a': 1.5})",
    "out = []\nfor i in range(10):\n    if i % 2:\n        continue\n    if i > 6:\n        break\n    out.append(i)\nprint(out)",
    "import math\nprint(math.sqrt(16), math.floor(2.7), round(2.5), round(3.14159, 2))",
    "print(', '.join(['a', 'b']), 'x'.upper(), '{} px'.format(5), 'a-b-c'.split('-'))",
    "from PIL import ImageOps, ImageFilter\nprint(ImageOps.autocontrast(image).getpixel((63, 0)), image.filter(ImageFilter.SMOOTH).size)",
    "print(f\"{3.14159:.3f}|{42:5d}|{0.256:.1%}|{'ab':>4}|{1234567:,}|{'x'!r}\")",
    "d = {'w': 64, 'h': 48}\nd['c'] = 3\nfor k, v in d.items():\n    print(k, v)\nprint(d.get('x', 0))",
    "s = 'image_clue_0'\nprint(s[-1], s[:5], s[::-1][:3])\nx = [v * 2 for v in range(5) if v != 3]",
    "w, h = image.size\nscores = []\nfor y in range(0, h, 24):\n    for x in range(0, w, 32):\n        r = blocky(image.crop((x, y, x + 32, y + 24)))\n        scores.append(r['stats']['mean_r'])\nprint(sorted(scores))",
    "from PIL import Image, ImageEnhance\nregion = image.crop((16, 12, 48, 36))\nzoomed = region.resize((region.width * 2, region.height * 2), Image.BICUBIC)\nresult = ImageEnhance.Contrast(zoomed).enhance(1.5)",
    "x = image.transpose(Image.FLIP_LEFT_RIGHT).rotate(45, expand=True)\ndisplay(x)\nprint('big' if x.width > 50 else 'small')",
    "from PIL import ImageDraw\ncrop = image.crop((0, 0, 20, 20))\ndraw = ImageDraw.Draw(crop)\ndraw.rectangle([(2, 2), (10, 8)], outline=(255, 0, 0), width=2)\ndraw.line((0, 0, 19, 19), fill='red', width=3)\ndraw.text((1, 1), 'ab')\nresult = crop",
    "from PIL import ImageFilter\nfor f in [ImageFilter.BLUR, ImageFilter.SHARPEN, ImageFilter.FIND_EDGES]:\n    print(image.filter(f).getpixel((10, 10)))\ng = image.filter(ImageFilter.GaussianBlur(radius=2)).filter(ImageFilter.MedianFilter(3))",
    "import numpy as np\narr = np.array(image)\nregion = arr[10:20, 30:40]\nred = arr[:, :, 0]\nprint(region.shape, red.max(), np.mean(region), arr[5, 7], np.std(arr[0, :, 0]))",
    "import numpy as np\na = np.array(image).astype(np.float32)\nd = np.abs(a - a[::-1, :, :] * 0.5) / 2 + 1\nout = Image.fromarray(np.clip(d * 2, 0, 255).astype(np.uint8))\nprint(out.size, np.zeros((4, 6)).sum(), np.ones(3))",
    "def zoom(img, box=(0, 0, 16, 12), factor=2):\n    c = img.crop(box)\n    return c.resize((c.width * factor, c.height * factor))\nresult = zoom(image, (4, 4, 20, 20), factor=3)\nprint(result.size)",
    "x = 0\ntiles = []\nwhile x + 16 <= image.width:\n    tiles.append(image.crop((x, 0, x + 16, 16)).getpixel((0, 0)))\n    x += 16\nelse:\n    print(len(tiles))\nprint(sorted(tiles, key=lambda p: -p[0])[:2])",
    "def safe(img, box):\n    try:\n        return img.crop(box)\n    except (ValueError, TypeError) as e:\n        print('bad', e)\n        raise\n    finally:\n        print('done')\ntry:\n    safe(image, (9, 9, 1, 1))\nexcept Exception as e:\n    print(repr(e), e.args)",
    "count = 0\ndef split(box, depth, *extra, scale=1, **kw):\n    global count\n    count += 1\n    if depth == 0:\n        return [box]\n    x0, y0, x1, y1 = box\n    mx = (x0 + x1) // 2\n    return split((x0, y0, mx, y1), depth - 1) + split((mx, y0, x1, y1), depth - 1)\nprint(len(split((0, 0, 64, 48), 3)), count, max(map(lambda b: b[2], split((0, 0, 8, 8), 2))))",
];

const TOKENS: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ":", "\n", "\t", "    ", "'", "\"", "\"\"\"", "\\", "#", "**", "//", "10**9", "__class__",
    "while", "def", "lambda", "import os", "for i in range(10**6):\n    ", "f'{", "}", ",", ".", "=", "+=", "-", "not ", "if ",
    "else", "\u{e9}", "\u{1F600}", "\0", "\r", "image", "result = ", "print(", "range(", "1e308*10", "-9223372036854775808",
    "while True:\n    ", "def f(*a, **k):\n    return f(a)\n", "return ", "lambda x: ", "try:\n    ", "except Exception as e:\n    ",
    "finally:\n    ", "raise ", "raise\n", "global ", "key=lambda r: r[0]", "f()", "def g(x=g):\n    return g(x)\ng()\n",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

fn mutate(rng: &mut Lcg, src: &str) -> String {
    let mut b = src.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(b.len() + 1);
        match rng.below(8) {
            6 | 7 => {
                // Replace a number with an edge value: exercises the evaluator
                // rather than the parser.
                const EDGES: [&str; 10] = ["0", "-1", "99999", "10**6", "1e308", "-0.0", "3.5", "-64", "2**62", "100000"];
                if let Some(start) = (at..b.len()).find(|&i| b[i].is_ascii_digit()) {
                    let end = (start..b.len()).find(|&i| !b[i].is_ascii_digit()).unwrap_or(b.len());
                    b.splice(start..end, EDGES[rng.below(EDGES.len())].bytes());
                }
            }
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            1 => b.truncate(at),
            2 => {
                let other = CORPUS[rng.below(CORPUS.len())].as_bytes();
                let (s, e) = (rng.below(other.len()), rng.below(other.len()));
                let (s, e) = (s.min(e), s.max(e));
                b.splice(at..at, other[s..e].iter().copied());
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            4 if !b.is_empty() => {
                let end = (at + rng.below(12)).min(b.len());
                b.drain(at.min(end)..end);
            }
            _ => {
                let i = rng.below(b.len().max(1));
                let end = (i + rng.below(40)).min(b.len());
                let piece = b[i.min(end)..end].to_vec();
                b.splice(at..at, piece);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Deterministic mutations of the corpus per run of [`fuzz_20000_mutations_never_panic`].
const ITERATIONS: usize = 20_000;

/// 20,000 deterministic mutations (fixed seed) of the benign corpus: none may
/// panic, every error must be a Python-style line. Runs in well under 30 s in
/// the dev profile.
#[test]
fn fuzz_20000_mutations_never_panic() {
    let mut rng = Lcg(0x5eed_1234_abcd_0001);
    let limits = PvrLimits { max_steps: 20_000, max_wall: Duration::from_secs(1), ..PvrLimits::default() };
    let exec_limits = ExecLimits { max_side: 1024, max_pixels: 1 << 20, max_images: 32 };
    let mut ex = PvrExecutor::new(limits);
    let (mut errors, mut successes) = (0, 0);
    for n in 0..ITERATIONS {
        if n % 100 == 0 {
            ex = PvrExecutor::new(limits);
        }
        let base = CORPUS[rng.below(CORPUS.len())];
        let src = mutate(&mut rng, base);
        let mut st = state_with(exec_limits);
        let obs = ex.execute(&code(&src), &mut st);
        assert!(!obs.text.contains("SystemError"), "interpreter panicked on mutation {n}:\n{src:?}\n---\n{}", obs.text);
        if let Some(e) = &obs.error {
            assert!(obs.text.ends_with(e.as_str()));
            let kind = e.split(':').next().unwrap_or("");
            assert!(kind.ends_with("Error"), "error line is not Python-style: {e}");
            errors += 1;
        } else {
            successes += 1;
        }
    }
    eprintln!("fuzz: {ITERATIONS} mutations: {successes} ran, {errors} raised errors");
    assert_eq!(successes + errors, ITERATIONS);
    assert!(successes > 400 && errors > 4000);
}

#[test]
fn corpus_runs_clean() {
    for src in CORPUS {
        let (obs, _) = run(src);
        assert!(obs.error.is_none(), "{src}\n---\n{}", obs.text);
    }
}
