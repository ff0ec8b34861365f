#!/usr/bin/env python3
"""Plain-CPython reference runner for the PVR snippet corpus (no jail).

    python reference.py --image IMG --corpus DIR [--image2 IMG2] [--ids a,b] --out results.jsonl
                        [--timeout 60] [--pyvision-textual-show]

``DIR`` holds ``manifest.jsonl`` and ``snippets/<id>.py``. For each manifest entry the
snippet runs in a *fresh child process* (fork), in its *own temporary working
directory*, with matplotlib's Agg backend, in a namespace built the way that
project's public harness builds it (see ``CONVENTIONS`` below and
``sandbox/python/CONVENTIONS.md`` for the source line references). One JSON line is
written per snippet::

    {"id", "ok", "error_type", "error_line", "images": [[w, h], ...], "stdout",
     # extra, informational fields (a comparator may ignore them):
     "convention", "image_kinds": ["figure"|"file"|"result"], "error_message"}

Everything a Rust re-implementation must agree on lives in the section
"COLLECTION RULES" -- one function per channel:

* ``channel_figures``     -- what a ``plt.show()`` call produces (pyvision, deepeyes)
* ``channel_files``       -- files written and/or printed (thyme)
* ``channel_result_var``  -- the ``result``/``output``/... variable (codevision, truthEYE2)
* ``channel_last_expr``   -- the value of a trailing expression (deepeyes / IPython)
* ``channel_stdout``      -- print output (all conventions)
* ``error_of``            -- how an exception becomes ``error_type`` / ``error_line``

Runner conventions that are *not* part of any original harness (documented so the
Rust side does the same):

* Input images are copied into ``<workdir>/input/`` and the snippet gets that copy.
* ``image_paths`` from the manifest: every quoted string literal equal to one of those
  paths is replaced by the absolute path of the input copy (after the convention's own
  rewrites, so Thyme's ``ImagePathTransformer`` still sees the original literal).
* ``random.seed(0)`` and ``numpy.random.seed(0)`` are called before each snippet.
* ``depends_on``: earlier turns of the same session are executed first, in the same
  namespace and working directory; their outputs and exceptions are discarded.
* In ``stdout`` the absolute working directory is replaced by ``$WORKDIR``.
* stdout is recorded even when the snippet fails (PyVision itself would show only the
  error line), and it is capped to 16 KiB of UTF-8.
* ``error_line`` is the 1-based line, in the code *as executed* (after the
  convention's rewrites), of the innermost traceback frame that belongs to the
  snippet; for ``SyntaxError`` it is the reported line; ``null`` for errors the
  harness itself raises.
* ``images`` lists ``[width, height]`` of each returned image in the order produced.

Manifest fields read here: ``id``, ``convention``, ``image_paths`` and the optional
``depends_on`` (list of ids replayed first), ``input_image`` (``"secondary"`` selects
``--image2``). ``project``, ``source``, ``license``, ``notes`` and
``original_observation`` (what the original harness returned, where known) are
documentation only.
"""
import argparse
import ast
import base64
import contextlib
import glob
import io
import json
import math
import multiprocessing
import os
import re
import shutil
import string
import sys
import tempfile
import textwrap
import traceback

STDOUT_CAP = 16 * 1024
SNIPPET_FILENAME = "<snippet>"

# ---------------------------------------------------------------------------
# Error types produced by a harness itself (not by the model's code).
# ---------------------------------------------------------------------------
HARNESS_DANGEROUS = "DangerousCodeRejected"   # thyme regex blocklist
HARNESS_VALIDATION = "CodeValidationError"    # codevision AST blocklist / length limit
HARNESS_INVALID_RESULT = "InvalidResult"      # codevision/truthEYE2: result is not a usable PIL image
HARNESS_OUTPUT_PATH = "OutputPathError"       # thyme: processed_path / printed path names no file
HARNESS_TIMEOUT = "Timeout"
HARNESS_CRASH = "Crash"


class HarnessError(Exception):
    """An error raised by the emulated harness, not by the snippet."""

    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


# ===========================================================================
# CONVENTIONS: namespaces and code rewrites, per project harness
# ===========================================================================

PYVISION_FORBIDDEN = re.compile(r"(\s|^)?(input|os\.system|subprocess)\(")
PYVISION_SHOW_BLOCK = """
# Capture current figure
buf = io.BytesIO()
plt.savefig(buf, format='png')
buf.seek(0)
_captured_image = base64.b64encode(buf.read()).decode('utf-8')
_captured_figures.append(_captured_image)
plt.close()
"""

THYME_DANGEROUS = [
    r'\bsys\.', r'\bsocket\.', r'\bsubprocess\.', r'\bexec\(', r'\beval\(', r'\bcompile\(',
    r'\b__import__\(', r'\bos\.(remove|unlink|rmdir)\b', r'\bshutil\.rmtree\b', r'\bshutil\.move\b',
    r'\bos\.(rename|renames)\b',
]
THYME_ORIGINAL_PREFIX = '/mnt/data/temp_processed_images/'
THYME_MIN_CROP = 64
THYME_IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.gif', '.bmp', '.tiff', '.webp')
THYME_OUTPUT_EXTS = ['jpg', 'jpeg', 'png', 'bmp', 'gif', 'tiff']

CODEVISION_MAX_CODE = 2048  # recipe/codevision/config/code_image_tool_config.yaml
CODEVISION_DANGEROUS_IMPORTS = ['os', 'sys', 'subprocess', 'eval', 'exec', 'compile',
                                'open', 'file', 'input', 'raw_input', '__import__']
CODEVISION_DANGEROUS_CALLS = ['exit', 'quit', 'help', 'dir', 'vars', 'globals', 'locals']
CODEVISION_ALLOWED_IMPORTS = {"PIL", "PIL.Image", "PIL.ImageEnhance", "PIL.ImageFilter", "PIL.ImageOps",
                              "PIL.ImageDraw", "PIL.ImageFont", "numpy", "math", "cv2"}


def load_pyvision_image(path):
    """PyVision: base64 image_url -> Image.open(BytesIO(...)).convert('RGB')."""
    from PIL import Image
    with open(path, "rb") as f:
        data = f.read()
    return Image.open(io.BytesIO(data)).convert("RGB")


def qwen_smart_resize(height, width, factor=28, min_pixels=4 * 28 * 28, max_pixels=16384 * 28 * 28):
    """qwen_vl_utils.smart_resize, used by qwen_vl_utils.fetch_image."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError("absolute aspect ratio must be smaller than 200")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def load_codevision_image(path):
    """CodeVision: CodeImageTool.create() -> qwen_vl_utils.fetch_image({"image": img}):
    to RGB (RGBA composited on white) and resized to multiples of 28 (smart_resize)."""
    from PIL import Image
    img = Image.open(path)
    if img.mode == "RGBA":
        bg = Image.new("RGB", img.size, (255, 255, 255))
        bg.paste(img, mask=img.split()[3])
        img = bg
    else:
        img = img.convert("RGB")
    w, h = img.size
    rh, rw = qwen_smart_resize(h, w)
    return img.resize((rw, rh))


def build_pyvision(image_path, workdir):
    ns = {}
    for header in ["import matplotlib", "matplotlib.use('Agg')", "import matplotlib.pyplot as plt",
                   "from PIL import Image", "import io", "import base64", "import numpy as np",
                   "_captured_figures = []"]:
        exec(header, ns)
    ns["image_clue_0"] = load_pyvision_image(image_path)
    return ns, None


_CODEVISION_ORIGINAL = [None]  # the un-copied input image (CodeImageTool's `image` argument)


def build_codevision(image_path, workdir):
    import PIL
    from PIL import Image, ImageEnhance, ImageFilter, ImageOps, ImageDraw, ImageFont
    import numpy as np
    try:
        import cv2
    except ImportError:
        cv2 = None

    def safe_import(name, globals=None, locals=None, fromlist=(), level=0):
        if any(name == mod or name.startswith(mod + ".") for mod in CODEVISION_ALLOWED_IMPORTS):
            return __import__(name, globals, locals, fromlist, level)
        raise ImportError(f"Import of '{name}' is not allowed in safe mode")

    original = load_codevision_image(image_path)
    image_copy = original.copy()
    g = {
        '__builtins__': {
            'len': len, 'range': range, 'enumerate': enumerate, 'zip': zip,
            'min': min, 'max': max, 'sum': sum, 'abs': abs, 'round': round,
            'int': int, 'float': float, 'str': str, 'bool': bool,
            'list': list, 'tuple': tuple, 'dict': dict, 'set': set,
            'print': print, 'isinstance': isinstance, 'type': type,
            'hasattr': hasattr, 'getattr': getattr, 'setattr': setattr,
            'math': math, 'np': np, '__import__': safe_import,
        },
        'PIL': PIL, 'Image': Image, 'ImageEnhance': ImageEnhance, 'ImageFilter': ImageFilter,
        'ImageOps': ImageOps, 'ImageDraw': ImageDraw, 'ImageFont': ImageFont,
        'numpy': np, 'math': math,
        'image': image_copy, 'img': image_copy,
        'PI': math.pi, 'E': math.e,
        'draw': ImageDraw.Draw(image_copy),
    }
    _CODEVISION_ORIGINAL[0] = original
    if cv2 is not None:
        g['cv2'] = cv2
        g['cv'] = cv2
    return g, {}


def build_trutheye2(image_path, workdir):
    # scripts/trutheye2.py exec_code(); the published file forgets to import these
    # PIL modules (NameError before any model code runs) -- we build the intended dict.
    from PIL import Image, ImageFile, ImageDraw, ImageChops, ImageFilter, ImageOps
    ns = {"image": Image.open(image_path), "Image": Image, "ImageFile": ImageFile,
          "ImageDraw": ImageDraw, "ImageChops": ImageChops, "ImageFilter": ImageFilter,
          "ImageOps": ImageOps}
    return ns, None


def build_thyme(image_path, workdir):
    import random
    import json as _json
    import numpy
    from PIL import Image, UnidentifiedImageError
    import PIL
    try:
        import cv2
    except ImportError:
        cv2 = None
    allowed_builtins = {
        "print": print, "len": len, "str": str, "int": int, "float": float,
        "list": list, "dict": dict, "tuple": tuple, "range": range, "round": round,
        "abs": abs, "min": min, "max": max, "sum": sum, "sorted": sorted,
        "any": any, "all": all, "zip": zip, "map": map, "filter": filter,
        "True": True, "False": False, "None": None, "isinstance": isinstance,
        "issubclass": issubclass, "Exception": Exception, "ValueError": ValueError,
        "TypeError": TypeError, "AttributeError": AttributeError, "IndexError": IndexError,
        "KeyError": KeyError, "NotImplementedError": NotImplementedError,
        "enumerate": enumerate, "pow": pow, "divmod": divmod, "bin": bin,
        "oct": oct, "hex": hex, "complex": complex, "__import__": __import__,
        "globals": globals, "locals": locals, "open": open,
        "os": os, "shutil": shutil,
        "itertools": __import__('itertools'), "re": re, "time": __import__('time'),
        "datetime": __import__('datetime'), "math": math, "cmath": __import__('cmath'),
        "collections": __import__('collections'), "json": _json, "PIL": PIL,
        "random": random, "UnidentifiedImageError": UnidentifiedImageError,
    }
    g = {"__builtins__": allowed_builtins, "os": os, "random": random, "string": string,
         "math": math, "Image": Image, "UnidentifiedImageError": UnidentifiedImageError,
         "numpy": numpy, "np": numpy, "json": _json, "re": re}
    if cv2 is not None:
        g["cv2"] = cv2
    tod = os.path.join(workdir, "temp_processed_images")
    os.makedirs(tod, exist_ok=True)
    loc = {"image_path": image_path, "temp_output_dir": tod}
    return g, loc


def build_deepeyes(image_path, workdir):
    # DeepEyesV2 init cell + the names SAFE_PREFIX leaves in the IPython user namespace.
    # (SAFE_PREFIX's monkeypatches live only in the process that ran it; model cells run
    # in later processes that restore the namespace from Redis, so they are not emulated.)
    ns = {"__name__": "__main__"}
    exec("import builtins\nimport os\nimport shutil\nimport subprocess\nimport sys\n"
         "import matplotlib.pyplot as plt\n", ns)
    with open(image_path, "rb") as f:
        ns["_img_base64"] = base64.b64encode(f.read()).decode()
    exec("from PIL import Image\nimport base64\nfrom io import BytesIO\n"
         "image_1 = Image.open(BytesIO(base64.b64decode(_img_base64)))\n", ns)
    return ns, None


BUILDERS = {"pyvision": build_pyvision, "codevision": build_codevision,
            "truthEYE2": build_trutheye2, "thyme": build_thyme, "deepeyes": build_deepeyes}


# ---------------------------------------------------------------- rewrites --

def thyme_align_first_line_to_second(code):
    lines = code.splitlines()
    first = second = None
    for idx, line in enumerate(lines):
        if line.strip():
            if first is None:
                first = (idx, line)
            elif second is None:
                second = (idx, line)
                break
    if not first or not second:
        return code
    ind1 = ' ' * (len(first[1]) - len(first[1].lstrip(' ')))
    ind2 = ' ' * (len(second[1]) - len(second[1].lstrip(' ')))
    if ind1 != ind2:
        lines[first[0]] = ind2 + first[1].lstrip(' ')
    return "\n".join(lines)


class ThymeImagePathTransformer(ast.NodeTransformer):
    def __init__(self, replacement_path):
        self.replacement_path = replacement_path
        self.path_was_replaced = False

    def visit_Assign(self, node):
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and node.targets[0].id == 'image_path':
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                p = node.value.value
                ok = os.path.exists(p) and os.path.isfile(p) and any(p.lower().endswith(e) for e in THYME_IMAGE_EXTS)
                if not ok:
                    node.value = ast.Constant(value=self.replacement_path)
                    self.path_was_replaced = True
        return self.generic_visit(node)


class ThymeCropCoordinateTransformer(ast.NodeTransformer):
    """Port of Thyme's CropCoordinateTransformer (cases 1 and 2; its case 3 tests
    ``isinstance(slice, ast.Index)``, which is never true on Python >= 3.9)."""
    KNOWN = ['crop_box', 'bbox', 'box', 'coordinates', 'coords', 'crop_coords',
             'left_crop_coords', 'right_crop_coords', 'top_crop_coords', 'bottom_crop_coords']

    def __init__(self, w, h):
        self.w, self.h = w, h
        self.coordinates_clamped = False

    @staticmethod
    def _num(n):
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)):
            return n.value
        return None

    def _clamp(self, x1, y1, x2, y2):
        W, H = float(self.w), float(self.h)
        cx1, cx2, cy1, cy2 = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
        fx1 = min(max(0.0, cx1), W - 1.0 if W > 0 else 0.0)
        fx2 = min(max(0.0, cx2), W)
        if fx1 >= fx2 and W > 0:
            fx1 = max(0.0, fx2 - 1.0)
            if fx2 <= fx1:
                fx2 = min(W, fx1 + 1.0)
        fy1 = min(max(0.0, cy1), H - 1.0 if H > 0 else 0.0)
        fy2 = min(max(0.0, cy2), H)
        if fy1 >= fy2 and H > 0:
            fy1 = max(0.0, fy2 - 1.0)
            if fy2 <= fy1:
                fy2 = min(H, fy1 + 1.0)
        if W > 0 and fx2 - fx1 < THYME_MIN_CROP:
            if W < THYME_MIN_CROP:
                fx1, fx2 = 0.0, W
            else:
                fx2 = fx1 + THYME_MIN_CROP
                if fx2 > W:
                    fx2 = W
                    fx1 = max(0.0, fx2 - THYME_MIN_CROP)
        if H > 0 and fy2 - fy1 < THYME_MIN_CROP:
            if H < THYME_MIN_CROP:
                fy1, fy2 = 0.0, H
            else:
                fy2 = fy1 + THYME_MIN_CROP
                if fy2 > H:
                    fy2 = H
                    fy1 = max(0.0, fy2 - THYME_MIN_CROP)
        if W > 0 and fx1 >= fx2:
            fx2 = min(W, fx1 + 1.0)
        if H > 0 and fy1 >= fy2:
            fy2 = min(H, fy1 + 1.0)
        return [fx1, fy1, fx2, fy2]

    def _apply(self, tup):
        raw = [self._num(v) for v in tup.elts]
        if not all(c is not None for c in raw):
            return
        new = self._clamp(*raw)
        if [int(round(c)) for c in new] != [int(round(c)) for c in raw]:
            self.coordinates_clamped = True
            for i in range(4):
                tup.elts[i] = ast.Constant(value=int(round(new[i])))

    def visit_Assign(self, node):
        t = node.targets
        if (len(t) == 1 and isinstance(t[0], ast.Tuple) and len(t[0].elts) == 4
                and all(isinstance(e, ast.Name) for e in t[0].elts)
                and isinstance(node.value, ast.Tuple) and len(node.value.elts) == 4):
            names = [e.id.lower() for e in t[0].elts]
            if any(n in names for n in ['x1', 'y1', 'x2', 'y2', 'left', 'top', 'right', 'bottom']):
                self._apply(node.value)
        elif (len(t) == 1 and isinstance(t[0], ast.Name) and t[0].id in self.KNOWN
              and isinstance(node.value, ast.Tuple) and len(node.value.elts) == 4):
            self._apply(node.value)
        return self.generic_visit(node)


class ThymeOpenCVNamespaceTransformer(ast.NodeTransformer):
    def __init__(self):
        self.namespace_updated = False

    def visit_Attribute(self, node):
        if isinstance(node.value, ast.Name) and node.value.id in ["cv", "cv4", "cv3", "CV"]:
            node.value.id = "cv2"
            self.namespace_updated = True
        return self.generic_visit(node)


def rewrite_thyme(code, image_path, locals_):
    """Thyme sandbox rewrites, in the harness' order (autopep8 is not applied here)."""
    for pat in THYME_DANGEROUS:
        if re.search(pat, code, re.IGNORECASE):
            raise HarnessError(HARNESS_DANGEROUS, "Code contains potentially dangerous system operations "
                                                  "such as remove. Execution denied.")
    code = thyme_align_first_line_to_second(code)
    code = textwrap.dedent(code).strip()
    try:
        tr = ThymeImagePathTransformer(image_path)
        tree = tr.visit(ast.parse(code))
        if tr.path_was_replaced:
            code = ast.unparse(tree)
    except SyntaxError:
        pass
    try:
        from PIL import Image
        with Image.open(image_path) as im:
            w, h = im.size
        tr = ThymeCropCoordinateTransformer(w, h)
        tree = tr.visit(ast.parse(code))
        if tr.coordinates_clamped:
            code = ast.unparse(tree)
    except SyntaxError:
        pass
    try:
        tr = ThymeOpenCVNamespaceTransformer()
        tree = tr.visit(ast.parse(code))
        if tr.namespace_updated:
            code = ast.unparse(tree)
    except SyntaxError:
        pass
    tod = locals_["temp_output_dir"]
    repl = tod + '/' if not tod.endswith('/') else tod
    for m in re.finditer(r"(['\"])(" + re.escape(THYME_ORIGINAL_PREFIX) + r"[^'\"]*)\1", code):
        suffix = m.group(2)[len(THYME_ORIGINAL_PREFIX):].replace(' ', '')
        if suffix and os.path.dirname(suffix):
            os.makedirs(os.path.join(tod, os.path.dirname(suffix)), exist_ok=True)
    code = code.replace(THYME_ORIGINAL_PREFIX, repl)
    code = re.sub(r':\.\d{1}f}', ':.8f}', code)
    return code


def deepeyes_fix_python_indentation(code):
    """DeepEyesV2 fix_python_indentation (autopep8 step not applied): every line is
    stripped and re-indented by a heuristic that only indents after ':' and only
    dedents before except/elif/else/finally."""
    lines = [line.strip() for line in code.split('\n') if line.strip()]
    fixed, indent = [], 0
    for line in lines:
        if any(line.startswith(kw) for kw in ['except', 'elif', 'else', 'finally']):
            indent = max(0, indent - 1)
        fixed.append('    ' * indent + line)
        if line.endswith(':'):
            indent += 1
    return textwrap.dedent('\n'.join(fixed)).strip()


def codevision_validate(code):
    if len(code) > CODEVISION_MAX_CODE:
        raise HarnessError(HARNESS_VALIDATION, f"Code too long. Maximum allowed length: {CODEVISION_MAX_CODE}")
    tree = ast.parse(code, SNIPPET_FILENAME)  # SyntaxError propagates as SyntaxError
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in CODEVISION_DANGEROUS_IMPORTS:
                    raise HarnessError(HARNESS_VALIDATION, f"Dangerous import detected: {alias.name}")
        if isinstance(node, ast.ImportFrom) and node.module in CODEVISION_DANGEROUS_IMPORTS:
            raise HarnessError(HARNESS_VALIDATION, f"Dangerous import detected: {node.module}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CODEVISION_DANGEROUS_CALLS:
            raise HarnessError(HARNESS_VALIDATION, f"Dangerous function call detected: {node.func.id}")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in CODEVISION_DANGEROUS_IMPORTS:
            raise HarnessError(HARNESS_VALIDATION, f"Dangerous attribute access detected: {node.value.id}.{node.attr}")


def rewrite_code(conv, code, image_path, locals_, textual_show):
    """Convention-specific pre-exec checks and rewrites. Returns the code to exec."""
    if conv == "pyvision":
        if PYVISION_FORBIDDEN.search(code):
            raise RuntimeError("Forbidden function calls detected")
        if textual_show and "plt.show()" in code:
            code = code.replace("plt.show()", PYVISION_SHOW_BLOCK)
        return code
    if conv == "thyme":
        return rewrite_thyme(code, image_path, locals_)
    if conv == "deepeyes":
        return deepeyes_fix_python_indentation(code)
    if conv == "codevision":
        codevision_validate(code)
        return code
    return code  # truthEYE2: bare exec


def map_image_paths(code, image_paths, image_path):
    """Runner convention: quoted literals equal to a manifest image path -> the input copy."""
    for p in image_paths or []:
        for q in ('"', "'"):
            code = code.replace(q + p + q, q + image_path + q)
    return code


# ===========================================================================
# COLLECTION RULES (one function per channel)
# ===========================================================================

class Sink:
    """Ordered list of returned images: (kind, width, height)."""

    def __init__(self):
        self.items = []

    def add_png_bytes(self, kind, data):
        from PIL import Image
        with Image.open(io.BytesIO(data)) as im:
            self.items.append((kind, im.size[0], im.size[1]))

    def add_size(self, kind, w, h):
        self.items.append((kind, int(w), int(h)))


def channel_figures(conv, sink, textual_show):
    """Figure channel: returns the replacement for ``matplotlib.pyplot.show`` or None.

    * pyvision: ``plt.show()`` saves the *current* figure (``plt.savefig(buf,
      format='png')``, figure dpi, no bbox) and then ``plt.close()``. Figures never
      shown are not returned. With ``--pyvision-textual-show`` the harness' literal
      text replacement is used instead and figures are read from ``_captured_figures``
      (see ``collect_textual_pyvision``).
    * deepeyes: ``plt.show()`` saves *every* open figure in ``plt.get_fignums()`` order
      (``fig.tight_layout(); fig.savefig(buf, bbox_inches='tight', format='png')``),
      then ``plt.close()`` (closes only the current one, so earlier figures are saved
      again by the next show).
    * thyme, codevision, truthEYE2: no figure channel (Agg ``show`` is a no-op;
      codevision cannot even import matplotlib).
    """
    import matplotlib.pyplot as plt
    if conv == "pyvision" and not textual_show:
        def show(*args, **kwargs):
            buf = io.BytesIO()
            plt.savefig(buf, format='png')
            sink.add_png_bytes("figure", buf.getvalue())
            plt.close()
        return show
    if conv == "deepeyes":
        def show(*args, **kwargs):
            for num in plt.get_fignums():
                fig = plt.figure(num)
                fig.tight_layout()
                buf = io.BytesIO()
                fig.savefig(buf, bbox_inches='tight', format='png')
                sink.add_png_bytes("figure", buf.getvalue())
            plt.close()
        return show
    return None


def collect_textual_pyvision(ns, start, sink):
    """pyvision --pyvision-textual-show: new base64 PNGs appended to _captured_figures."""
    for b64 in ns.get("_captured_figures", [])[start:]:
        sink.add_png_bytes("figure", base64.b64decode(b64))


def channel_files(conv, globals_, locals_, stdout_text, executed_code, sink):
    """File channel (thyme only). Returns an error message or None.

    After exec: (a) a local ``processed_path`` naming an existing file under
    ``temp_output_dir`` is taken first (a ``processed_path`` that names no file there is
    an error); (b) every ``<temp_output_dir>/....(jpg|jpeg|png|bmp|gif|tiff)`` found in
    stdout that exists is added, in print order, without duplicates; (c) if nothing was
    found and the number of such printed paths -- or else of any printed
    ``*.(jpg|...)`` tokens -- equals the number of image files in ``temp_output_dir``,
    all those files are used (sorted by extension list order, then name); otherwise a
    printed-but-missing path is an error. (d) A text-only result (stdout without a
    path) is not an image. Only existing image files are reported as images.
    """
    if conv != "thyme":
        return None
    tod = locals_["temp_output_dir"]
    paths, error = [], None
    pp = locals_.get("processed_path")
    if "processed_path" in locals_:
        if isinstance(pp, str) and pp.startswith(tod) and os.path.isfile(pp):
            paths.append(pp)
        elif isinstance(pp, str) and pp.startswith(tod) and not os.path.exists(pp):
            error = f"'processed_path' variable set to '{pp}', but file does not exist."
        elif pp is not None:
            error = f"'processed_path' variable was '{pp}', which is not a valid file path in {tod}."
    if stdout_text.strip():
        out = stdout_text.strip()
        pat = rf"({re.escape(tod)}[^\s\'\"]+\.(?:jpg|jpeg|png|bmp|gif|tiff))"
        in_dir = []
        for ext in THYME_OUTPUT_EXTS:
            in_dir.extend(sorted(glob.glob(os.path.join(tod, f'*.{ext}'))))
        n_parsed, possible_error = 0, ""
        for m in re.finditer(pat, out):
            n_parsed += 1
            p = m.group(1)
            if os.path.isfile(p):
                if p not in paths:
                    paths.append(p)
            elif not error:
                possible_error = f"Path '{p}' found in print, but file does not exist or is not a file."
        if not paths:
            if n_parsed == len(in_dir):
                paths = in_dir
            else:
                anyimg = re.findall(r"([^\s\'\"]+\.(?:jpg|jpeg|png|bmp|gif|tiff))", out)
                if len(anyimg) == len(in_dir):
                    paths = in_dir
                elif possible_error:
                    error = possible_error
    from PIL import Image
    for p in paths:
        try:
            with Image.open(p) as im:
                sink.add_size("file", *im.size)
        except Exception:
            pass
    return error


def channel_result_var(conv, globals_, locals_, sink, workdir):
    """Result-variable channel (codevision, truthEYE2). Raises HarnessError or KeyError.

    * codevision: first of ``result, output, processed_image, img, image`` found in the
      exec locals, else in the globals if it ``is not`` the original image (``img`` in
      the globals is always a copy, so the copy -- with any ``draw`` edits -- is the
      fallback). It must have ``.save`` and a positive size with aspect ratio < 200.
    * truthEYE2: ``ns["result"]`` (KeyError if unset), then ``result.save(<tmp>.png)``;
      a failing save is an error.
    """
    if conv == "codevision":
        original = _CODEVISION_ORIGINAL[0]
        result = None
        for name in ['result', 'output', 'processed_image', 'img', 'image']:
            if name in locals_:
                result = locals_[name]
                break
            elif name in globals_ and globals_[name] is not original:
                result = globals_[name]
                break
        if result is None:
            result = globals_.get('image', original)
        if result is None:
            raise HarnessError(HARNESS_INVALID_RESULT, "Code execution returned no result")
        if not hasattr(result, 'save'):
            raise HarnessError(HARNESS_INVALID_RESULT, "Code must return a PIL Image object.")
        w = h = None
        if hasattr(result, "size"):
            w, h = int(result.size[0]), int(result.size[1])
        if w is not None and (w <= 0 or h <= 0):
            raise HarnessError(HARNESS_INVALID_RESULT, f"The result has an invalid image size ({w}x{h}).")
        if w is not None and max(w / h, h / w) >= 200.0:
            raise HarnessError(HARNESS_INVALID_RESULT, f"The result has an invalid image aspect ratio ({w}x{h}).")
        sink.add_size("result", w, h)
        return
    if conv == "truthEYE2":
        result = globals_["result"]  # KeyError, as in scripts/trutheye2.py
        out = os.path.join(workdir, "trutheye2_result.png")
        try:
            result.save(out)
        except Exception as e:
            raise HarnessError(HARNESS_INVALID_RESULT, f"Error in execute code {e}")
        from PIL import Image
        with Image.open(out) as im:
            sink.add_size("result", *im.size)


def channel_last_expr(conv, code):
    """Last-expression channel (deepeyes / IPython): split off a trailing expression
    statement so its value can be echoed as ``Out[1]: <repr>`` to stdout (nothing for
    ``None`` or when the line ends with ';'). Returns (body_code, expr_code or None)."""
    if conv != "deepeyes":
        return code, None
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, None
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return code, None
    if code.rstrip().endswith(';'):
        return code, None
    last = tree.body[-1]
    lines = code.split('\n')
    body = '\n'.join(lines[:last.lineno - 1])
    expr = '\n'.join(lines[last.lineno - 1:])
    pad = '\n' * (last.lineno - 1)  # keep line numbers
    return body, pad + textwrap.dedent(expr)


def channel_stdout(raw, workdir):
    """stdout channel: everything printed during the run (also on failure), with the
    absolute working directory replaced by ``$WORKDIR``, capped to 16 KiB of UTF-8."""
    text = raw.replace(os.path.realpath(workdir), "$WORKDIR").replace(workdir, "$WORKDIR")
    data = text.encode("utf-8")
    if len(data) > STDOUT_CAP:
        text = data[:STDOUT_CAP].decode("utf-8", errors="ignore")
    return text


def error_of(exc):
    """(error_type, error_line) of an exception raised while running the snippet."""
    if isinstance(exc, HarnessError):
        return exc.error_type, None
    etype = type(exc).__name__
    if isinstance(exc, SyntaxError) and exc.filename == SNIPPET_FILENAME:
        return etype, exc.lineno
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == SNIPPET_FILENAME:
            line = lineno
    return etype, line


# ===========================================================================
# Runner
# ===========================================================================

def _exec(code, g, l):
    compiled = compile(code, SNIPPET_FILENAME, "exec")
    if l is None:
        exec(compiled, g)
    else:
        exec(compiled, g, l)


def run_snippet(entry, corpus, image_path, image2_path, textual_show):
    import random
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    conv = entry["convention"]
    workdir = tempfile.mkdtemp(prefix="pvr_" + entry["id"] + "_")
    os.chdir(workdir)
    src = image2_path if entry.get("input_image") == "secondary" else image_path
    os.makedirs(os.path.join(workdir, "input"), exist_ok=True)
    img = os.path.join(workdir, "input", os.path.basename(src))
    shutil.copyfile(src, img)

    res = {"id": entry["id"], "ok": False, "error_type": None, "error_line": None,
           "images": [], "stdout": "", "convention": conv, "image_kinds": [], "error_message": None}
    out = io.StringIO()
    sink = Sink()
    g, l = BUILDERS[conv](img, workdir)
    show = channel_figures(conv, sink, textual_show)
    real_show = plt.show
    if show is not None:
        plt.show = show

    def load(sid):
        with open(os.path.join(corpus, "snippets", sid + ".py"), encoding="utf-8") as f:
            return f.read()

    try:
        random.seed(0)
        np.random.seed(0)
        # earlier turns of the same session (outputs and errors discarded)
        for dep in entry.get("depends_on", []):
            try:
                dcode = map_image_paths(rewrite_code(conv, load(dep), img, l, textual_show),
                                        entry.get("image_paths"), img)
                with contextlib.redirect_stdout(io.StringIO()):
                    _exec(dcode, g, l)
            except BaseException:
                pass
        if conv != "pyvision":  # only PyVision keeps one process (and pyplot state) per session
            plt.close("all")
        sink.items.clear()
        cap_start = len(g.get("_captured_figures", [])) if conv == "pyvision" else 0

        code = load(entry["id"])
        try:
            code = rewrite_code(conv, code, img, l, textual_show)
            code = map_image_paths(code, entry.get("image_paths"), img)
            body, expr = channel_last_expr(conv, code)
            with contextlib.redirect_stdout(out):
                _exec(body, g, l)
                if expr is not None:
                    value = eval(compile(expr, SNIPPET_FILENAME, "eval"), g, l if l is not None else g)
                    if value is not None:
                        print("Out[1]: " + repr(value))
            if conv == "pyvision" and textual_show:
                collect_textual_pyvision(g, cap_start, sink)
            file_err = channel_files(conv, g, l, out.getvalue(), code, sink)
            if file_err:
                raise HarnessError(HARNESS_OUTPUT_PATH, file_err)
            channel_result_var(conv, g, l, sink, workdir)
            res["ok"] = True
        except BaseException as e:  # noqa: B902 -- SystemExit/KeyboardInterrupt from snippets too
            if conv == "pyvision" and textual_show:
                collect_textual_pyvision(g, cap_start, sink)
            res["error_type"], res["error_line"] = error_of(e)
            res["error_message"] = (str(e) or type(e).__name__)[:500]
    finally:
        plt.show = real_show
    res["images"] = [[w, h] for (_k, w, h) in sink.items]
    res["image_kinds"] = [k for (k, _w, _h) in sink.items]
    res["stdout"] = channel_stdout(out.getvalue(), workdir)
    return res


def _child(entry, corpus, image, image2, textual_show, conn):
    try:
        res = run_snippet(entry, corpus, image, image2, textual_show)
    except BaseException as e:  # runner bug or harness setup failure
        res = {"id": entry["id"], "ok": False, "error_type": type(e).__name__, "error_line": None,
               "images": [], "stdout": "", "convention": entry.get("convention"),
               "image_kinds": [], "error_message": "runner: " + str(e)[:480]}
    try:
        conn.send(res)
    finally:
        conn.close()
        os._exit(0)


def run_isolated(entry, corpus, image, image2, textual_show, timeout):
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(entry, corpus, image, image2, textual_show, child))
    p.start()
    child.close()
    res, timed_out = None, False
    if parent.poll(timeout):
        try:
            res = parent.recv()
        except EOFError:
            res = None
    else:
        timed_out = p.is_alive()
    p.join(5)
    if p.is_alive():
        p.kill()
        p.join()
    if res is None:
        res = {"id": entry["id"], "ok": False,
               "error_type": HARNESS_TIMEOUT if timed_out else HARNESS_CRASH, "error_line": None,
               "images": [], "stdout": "", "convention": entry.get("convention"), "image_kinds": [],
               "error_message": f"child exit code {p.exitcode}"}
    parent.close()
    return res


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Reference runner for the PVR snippet corpus.")
    ap.add_argument("--image", required=True, help="primary test image (e.g. test_image.jpg)")
    ap.add_argument("--image2", default=None,
                    help="secondary test image for entries with input_image=secondary "
                         "(default: test_image2.png next to --image, else --image)")
    ap.add_argument("--corpus", default=here, help="directory with manifest.jsonl and snippets/")
    ap.add_argument("--ids", default=None, help="comma-separated snippet ids to run")
    ap.add_argument("--out", required=True, help="output JSONL path")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per snippet")
    ap.add_argument("--pyvision-textual-show", action="store_true",
                    help="emulate PyVision's literal text replacement of plt.show() "
                         "(reproduces its IndentationError inside indented blocks)")
    args = ap.parse_args()
    image = os.path.abspath(args.image)
    image2 = args.image2
    if image2 is None:
        cand = os.path.join(os.path.dirname(image), "test_image2.png")
        image2 = cand if os.path.exists(cand) else image
    image2 = os.path.abspath(image2)
    corpus = os.path.abspath(args.corpus)
    with open(os.path.join(corpus, "manifest.jsonl"), encoding="utf-8") as f:
        entries = [json.loads(line) for line in f if line.strip()]
    if args.ids:
        wanted = [s.strip() for s in args.ids.split(",") if s.strip()]
        by_id = {e["id"]: e for e in entries}
        missing = [w for w in wanted if w not in by_id]
        if missing:
            print("unknown ids: " + ", ".join(missing), file=sys.stderr)
        entries = [by_id[w] for w in wanted if w in by_id]
    n_ok = 0
    with open(args.out, "w", encoding="utf-8") as fout:
        for e in entries:
            res = run_isolated(e, corpus, image, image2, args.pyvision_textual_show, args.timeout)
            n_ok += bool(res["ok"])
            fout.write(json.dumps(res, ensure_ascii=False) + "\n")
            fout.flush()
            status = "ok" if res["ok"] else f"{res['error_type']} (line {res['error_line']})"
            print(f"{e['id']:45s} {status:40s} images={res['images']}", file=sys.stderr)
    print(f"{n_ok}/{len(entries)} ok", file=sys.stderr)


if __name__ == "__main__":
    main()
