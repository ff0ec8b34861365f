# trutheye PVR runtime: runs inside the bubblewrap jail (see sandbox/README.md).
#
# Two roles in one file:
#  * the template process ("zygote"): imports numpy / Pillow / OpenCV /
#    matplotlib / SciPy / scikit-image once, then waits on the control socket
#    (fd 3, SOCK_SEQPACKET) for `spawn` requests that carry an episode socket;
#  * the episode interpreter: a fork of the template that tightens its own
#    limits (rlimits, no dumping, a second seccomp filter that forbids fork,
#    exec, signals to other processes and sockets), then runs the model's code
#    turn after turn in one namespace that persists across turns.
#
# Wire format on the episode socket: frames of a u32 little-endian length and
# that many bytes; each message is one JSON frame followed by the raw frames it
# announces (RGB8 pixels, source files). The host side is
# sandbox/src/python/wire.rs.
#
# This file is trusted code; the model's code runs after it has locked the
# process down, in a namespace where only ordinary modules are visible.

# The runtime's own names for builtins: model code may replace or delete
# `builtins.len` & co. in its namespace; the runtime keeps working.
from builtins import (BaseException, Exception, EOFError, InterruptedError, OSError, ValueError, TypeError,
                      RuntimeError, MemoryError, ProcessLookupError, ChildProcessError, SyntaxError, NameError,
                      bytes, dict, float, getattr, hasattr, id, int, isinstance, iter, len, list, max, min, next,
                      open, print, range, repr, round, set, setattr, sorted, str, sum, type, zip, filter,
                      memoryview, bytearray, next)
import ctypes
import io
import json
import os
import re
import signal
import socket
import struct
import sys
import time
import traceback

PROTOCOL = "trutheye-pvr-python"
VERSION = 1
CTL_FD = 3
MAX_CTL = 1 << 20

# Modules the template imports so an episode does not pay for them.
PRELOAD = [
    ("numpy", "numpy"),
    ("PIL", "pillow"),
    ("PIL.Image", "pillow"),
    ("PIL.ImageChops", "pillow"),
    ("PIL.ImageDraw", "pillow"),
    ("PIL.ImageEnhance", "pillow"),
    ("PIL.ImageFilter", "pillow"),
    ("PIL.ImageFont", "pillow"),
    ("PIL.ImageOps", "pillow"),
    ("PIL.ImageStat", "pillow"),
    ("cv2", "opencv-python-headless"),
    ("matplotlib", "matplotlib"),
    ("matplotlib.pyplot", "matplotlib"),
    ("matplotlib.patches", "matplotlib"),
    ("scipy", "scipy"),
    ("scipy.ndimage", "scipy"),
    ("scipy.fft", "scipy"),
    ("scipy.signal", "scipy"),
    ("scipy.stats", "scipy"),
    ("skimage", "scikit-image"),
    ("skimage.feature", "scikit-image"),
    ("skimage.filters", "scikit-image"),
    ("skimage.metrics", "scikit-image"),
    ("skimage.color", "scikit-image"),
    ("skimage.exposure", "scikit-image"),
    ("skimage.measure", "scikit-image"),
    ("skimage.restoration", "scikit-image"),
    ("skimage.segmentation", "scikit-image"),
    ("skimage.util", "scikit-image"),
]

# Where Thyme's models save processed images; its harness rewrites the prefix.
THYME_SAVE_DIR = "/mnt/data/temp_processed_images/"

# Names CodeVision's harness predefines around the image.
CODEVISION_NAMES = re.compile(r"\b(image|img|draw)\b")

# Variables whose new image value is shown at the end of an action (CodeVision, TruthEYE2).
RESULT_NAMES = ("result", "output", "processed_image")


# --------------------------------------------------------------------------
# framing

def recv_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("peer closed")
        got += k
    return buf


def recv_frame(sock, limit):
    (n,) = struct.unpack("<I", recv_exact(sock, 4))
    if n > limit:
        raise ValueError("frame of %d bytes exceeds %d" % (n, limit))
    return recv_exact(sock, n)


def send_msg(sock, msg, blobs=()):
    head = json.dumps(msg).encode()
    parts = [struct.pack("<I", len(head)), head]
    for b in blobs:
        parts.append(struct.pack("<I", len(b)))
        parts.append(b)
    if sum(len(p) for p in parts) < (1 << 20):
        sock.sendall(b"".join(parts))
    else:
        for p in parts:
            sock.sendall(p)


def recv_msg(sock, limit):
    msg = json.loads(bytes(recv_frame(sock, 1 << 24)))
    blobs = [recv_frame(sock, limit) for _ in range(int(msg.get("blobs", 0)))]
    return msg, blobs


# --------------------------------------------------------------------------
# the template process

def main():
    # No model code runs in the template, but keep its memory unreadable to the
    # episodes that share its uid.
    set_dumpable(False)
    missing = []
    versions = {}
    for mod, dist in PRELOAD:
        try:
            m = __import__(mod)
        except Exception as e:  # ImportError, or a broken native module
            missing.append({"module": mod, "package": dist, "error": "%s: %s" % (type(e).__name__, e)})
            continue
        top = mod.split(".")[0]
        if top not in versions:
            versions[top] = str(getattr(sys.modules[top], "__version__", "?"))
    if "matplotlib" in sys.modules:
        import matplotlib
        matplotlib.use("Agg", force=True)
    # cv2 points LD_LIBRARY_PATH at its bundled libraries while importing; they
    # are loaded now, and model code has no use for the variable.
    os.environ.pop("LD_LIBRARY_PATH", None)
    ctl = socket.socket(fileno=CTL_FD)
    ctl.sendall(json.dumps({
        "protocol": PROTOCOL, "version": VERSION,
        "python": sys.version.split()[0], "executable": sys.executable,
        "versions": versions, "missing": missing,
        "landlock_abi": max(0, libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))),
    }).encode())
    cfg = json.loads(ctl.recv(MAX_CTL))
    strict = [bytes.fromhex(h) for h in cfg.get("seccomp", [])]
    children = {}
    statuses = {}
    # Reap episodes as soon as they end (their scratch dirs go with them), so
    # no zombie or leftover file outlives its episode.
    signal.signal(signal.SIGCHLD, lambda _sig, _frame: reap(children, statuses))
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(ctl, MAX_CTL, 4)
        except InterruptedError:
            continue
        if not data:
            return  # the host went away: the jail ends with us
        reap(children, statuses)
        req = json.loads(data)
        op = req.get("op")
        if op == "spawn":
            if len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                ctl.sendall(json.dumps({"error": "spawn needs one episode socket"}).encode())
                continue
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                try:
                    os.close(CTL_FD)
                    episode(fds[0], cfg, strict, req)
                finally:
                    os._exit(0)
            os.close(fds[0])
            children[pid] = time.monotonic()
            ctl.sendall(json.dumps({"pid": pid}).encode())
        elif op == "kill":
            pid = int(req.get("pid", 0))
            status = None
            # Answer before cleaning up (a scratch dir may hold millions of
            # files): hold SIGCHLD so the handler does not reap and clean first.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
            if pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    _, st = os.waitpid(pid, 0)
                    statuses[pid] = describe_status(st)
                except ChildProcessError:
                    pass
                children.pop(pid, None)
            status = statuses.pop(pid, None)
            ctl.sendall(json.dumps({"pid": pid, "status": status}).encode())
            remove_scratch(pid)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        elif op == "status":
            pid = int(req.get("pid", 0))
            # A child whose socket closed may not have been reaped yet.
            deadline = time.monotonic() + 1.0
            while pid in children and time.monotonic() < deadline:
                reap(children, statuses)
                if pid in children:
                    time.sleep(0.005)
            ctl.sendall(json.dumps({"pid": pid, "status": statuses.pop(pid, None), "alive": pid in children}).encode())
        elif op == "ping":
            ctl.sendall(json.dumps({"ok": True, "children": len(children)}).encode())
        else:
            ctl.sendall(json.dumps({"error": "unknown op %r" % op}).encode())


def reap(children, statuses):
    while children:
        try:
            pid, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.pop(pid, None)
        statuses[pid] = describe_status(st)
        remove_scratch(pid)
        if len(statuses) > 1024:
            statuses.pop(next(iter(statuses)))


def scratch_dir(pid):
    return os.path.join("/tmp", "episode-%d" % pid)


def remove_scratch(pid):
    import shutil
    shutil.rmtree(scratch_dir(pid), ignore_errors=True)


def describe_status(st):
    if os.WIFSIGNALED(st):
        sig = os.WTERMSIG(st)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "signal %d" % sig
        return "killed by %s" % name
    return "exited with status %d" % os.WEXITSTATUS(st)


# --------------------------------------------------------------------------
# locking an episode down

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def set_dumpable(on):
    libc.prctl(PR_SET_DUMPABLE, 1 if on else 0, 0, 0, 0)


def install_seccomp(prog):
    if not prog:
        return
    if len(prog) % 8:
        raise RuntimeError("seccomp program of %d bytes is not a list of 8-byte instructions" % len(prog))
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(SECCOMP)")


# Landlock (Linux >= 5.13): each episode may read the system and interpreter
# trees and write only its own scratch dir, so episodes sharing the jail's /tmp
# cannot see each other's files.
LL_EXECUTE, LL_WRITE_FILE, LL_READ_FILE, LL_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
LL_READ = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR


class LandlockPathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock(read_dirs, devices, scratch):
    """Restricts this process's filesystem access; returns the ABI used (0: not available)."""
    abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # LANDLOCK_CREATE_RULESET_VERSION
    if abi < 1:
        return 0
    bits = 13 if abi == 1 else (14 if abi == 2 else 15)  # REFER in ABI 2, TRUNCATE in ABI 3
    handled = (1 << bits) - 1
    attr = ctypes.c_uint64(handled)
    rfd = libc.syscall(444, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if rfd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        def allow(path, access):
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                return
            if not os.path.isdir(path):
                access &= LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | (1 << 14)  # rights a file can carry
            try:
                rule = LandlockPathBeneath(access & handled, fd)
                if libc.syscall(445, rfd, 1, ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                    raise OSError(ctypes.get_errno(), "landlock_add_rule(%s)" % path)
            finally:
                os.close(fd)
        for d in read_dirs:
            allow(d, LL_READ)
        for d in devices:
            allow(d, LL_READ | LL_WRITE_FILE)
        allow(scratch, handled)
        if libc.syscall(446, rfd, ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(rfd)
    return abi


def lock_down(cfg, strict):
    import resource
    lim = cfg.get("rlimits", {})
    for name, value in lim.items():
        res = getattr(resource, name, None)
        if res is not None and value is not None:
            resource.setrlimit(res, (int(value), int(value)))
    set_dumpable(False)
    for prog in strict:
        install_seccomp(prog)


# --------------------------------------------------------------------------
# the episode interpreter

class CappedWriter(io.TextIOBase):
    """stdout/stderr of the model's code: keeps the first `cap` bytes, counts the rest."""

    def __init__(self, cap):
        self.cap = cap
        self.parts = []
        self.size = 0
        self.dropped = 0

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        room = self.cap - self.size
        if room > 0:
            part = s[:room]
            self.parts.append(part)
            self.size += len(part)
            self.dropped += len(s) - len(part)
        else:
            self.dropped += len(s)
        return len(s)

    def flush(self):
        pass

    def take(self):
        # Lone surrogates cannot travel as JSON text the host accepts.
        text = "".join(self.parts).encode("utf-8", "replace").decode("utf-8")
        dropped = self.dropped
        self.parts, self.size, self.dropped = [], 0, 0
        return text, dropped


class Episode:
    def __init__(self, sock, cfg, spawn):
        import numpy as np
        from PIL import Image
        self.sock = sock
        self.cfg = cfg
        self.np = np
        self.Image = Image
        self.max_output = int(cfg.get("max_output_bytes", 16384))
        self.max_images = int(cfg.get("max_images_per_action", 16))
        self.max_pixels = int(cfg.get("max_pixels", 40_000_000))
        self.max_side = int(cfg.get("max_side", 8192))
        self.max_frame = int(cfg.get("max_frame", 512 << 20))
        self.scratch = os.getcwd()
        self.ns = {}
        self.images = []          # names known, in episode order
        self.returned = []        # images the last action returned (host may name them)
        self.shown = []           # (PIL image, region) produced by this action
        self.saved_figs = set()
        self.aliases = {}         # original paths the model may open -> scratch files
        self.operators = list(spawn.get("operators", []))
        self.dialect = spawn.get("dialect") or "union"
        self.out = CappedWriter(self.max_output)
        # Warnings and other stderr are not shown: PyVision, Thyme and CodeVision
        # return stdout only (tracebacks come back as the error line).
        self.err = CappedWriter(4096)
        self.install_conventions()

    # -- conventions ---------------------------------------------------------

    def install_conventions(self):
        """Names the peers' harnesses put in scope (sandbox/python/CONVENTIONS.md)."""
        import base64
        import builtins
        import math
        import random
        import re
        import string
        import numpy as np
        from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps, ImageStat
        ns = self.ns
        ns["__name__"] = "__main__"
        ns["__builtins__"] = builtins
        for k, v in {"np": np, "numpy": np, "Image": Image, "ImageChops": ImageChops, "ImageDraw": ImageDraw,
                     "ImageEnhance": ImageEnhance, "ImageFilter": ImageFilter, "ImageFont": ImageFont,
                     "ImageOps": ImageOps, "ImageStat": ImageStat, "math": math, "os": os, "io": io,
                     "base64": base64, "json": json, "re": re, "random": random, "string": string,
                     "PI": math.pi, "E": math.e, "display": self.display,
                     "temp_output_dir": self.scratch}.items():
            ns[k] = v
        for mod, name in (("cv2", "cv2"), ("cv2", "cv"), ("matplotlib.pyplot", "plt")):
            if mod in sys.modules:
                ns[name] = sys.modules[mod]
        self.patch_libraries()
        for op in self.operators:
            ns[op] = self.operator_function(op)
        if self.dialect == "truthEYE2":
            # TruthEYE2's executor defines only these (sandbox/python/CONVENTIONS.md).
            keep = {"__name__", "__builtins__", "Image", "ImageDraw", "ImageChops", "ImageFilter", "ImageOps",
                    "display", "temp_output_dir", *self.operators}
            for k in list(ns):
                if k not in keep:
                    del ns[k]
            from PIL import ImageFile
            ns["ImageFile"] = ImageFile
        elif self.dialect == "thyme":
            for alias in ("cv3", "cv4", "CV"):
                if "cv2" in ns:
                    ns[alias] = ns["cv2"]

    def patch_libraries(self):
        from PIL import Image, ImageEnhance
        ep = self
        if "matplotlib.pyplot" in sys.modules:
            import matplotlib.pyplot as plt
            from matplotlib.figure import Figure
            # plt.show() shows every open figure, then closes them (Agg has no window).
            def show(*args, **kwargs):
                for num in list(plt.get_fignums()):
                    fig = plt.figure(num)
                    ep.show_figure(fig)
                    plt.close(fig)
            plt.show = show
            orig_savefig = Figure.savefig
            def savefig(fig, *args, **kwargs):
                ep.saved_figs.add(id(fig))
                return orig_savefig(fig, *args, **kwargs)
            Figure.savefig = savefig
        # Crops remember where they sit in image_clue_0: that is the localization candidate.
        orig_crop = Image.Image.crop
        def crop(img, box=None):
            out = orig_crop(img, box)
            base = getattr(img, "_trutheye_region", None)
            if base is not None and box is not None:
                try:
                    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
                    bx0, by0, bx1, by1 = base
                    sx = (bx1 - bx0) / max(img.width, 1)
                    sy = (by1 - by0) / max(img.height, 1)
                    r = [bx0 + x0 * sx, by0 + y0 * sy, bx0 + x1 * sx, by0 + y1 * sy]
                    r = [max(bx0, min(bx1, r[0])), max(by0, min(by1, r[1])), max(bx0, min(bx1, r[2])), max(by0, min(by1, r[3]))]
                    r = [int(round(v)) for v in r]
                    if r[2] > r[0] and r[3] > r[1]:
                        out._trutheye_region = r
                except Exception:
                    pass
            return out
        Image.Image.crop = crop
        for name in ("resize", "copy", "convert", "filter", "point", "transpose"):
            ep.keep_region(Image.Image, name)
        # In-place changes make an episode image differ from the host's copy.
        for name in ("paste", "putpixel", "putdata", "putalpha", "alpha_composite", "thumbnail", "frombytes"):
            ep.mark_dirty_on(Image.Image, name)
        from PIL import ImageDraw
        orig_draw = ImageDraw.Draw
        def draw(im, *args, **kwargs):
            try:
                im._trutheye_name = None
            except Exception:
                pass
            return orig_draw(im, *args, **kwargs)
        ImageDraw.Draw = draw
        orig_enhance = ImageEnhance._Enhance.enhance
        def enhance(self_, factor):
            out = orig_enhance(self_, factor)
            region = getattr(self_.image, "_trutheye_region", None)
            if region is not None:
                out._trutheye_region = region
            return out
        ImageEnhance._Enhance.enhance = enhance
        # The episode's original files open read-only from their original paths.
        orig_open = Image.open
        def image_open(fp, *args, **kwargs):
            return orig_open(ep.alias(fp), *args, **kwargs)
        Image.open = image_open
        if "cv2" in sys.modules:
            cv2 = sys.modules["cv2"]
            orig_imread = cv2.imread
            def imread(filename, *args, **kwargs):
                return orig_imread(ep.alias(filename), *args, **kwargs)
            cv2.imread = imread

    def keep_region(self, cls, name):
        orig = getattr(cls, name)
        def method(img, *args, **kwargs):
            out = orig(img, *args, **kwargs)
            region = getattr(img, "_trutheye_region", None)
            if region is not None and out is not img and hasattr(out, "size"):
                try:
                    out._trutheye_region = region
                except Exception:
                    pass
            return out
        method.__name__ = name
        method.__doc__ = orig.__doc__
        setattr(cls, name, method)

    def mark_dirty_on(self, cls, name):
        orig = getattr(cls, name, None)
        if orig is None:
            return
        def method(img, *args, **kwargs):
            try:
                img._trutheye_name = None
            except Exception:
                pass
            return orig(img, *args, **kwargs)
        method.__name__ = name
        method.__doc__ = orig.__doc__
        setattr(cls, name, method)

    def alias(self, path):
        if isinstance(path, (str, bytes, os.PathLike)):
            key = os.fsdecode(path)
            if key in self.aliases:
                return self.aliases[key]
        return path

    # -- images in and out ---------------------------------------------------

    def to_rgb(self, obj):
        """A PIL image or array as (RGB PIL image, region), or None."""
        Image = self.Image
        np = self.np
        region = getattr(obj, "_trutheye_region", None)
        if isinstance(obj, Image.Image):
            img = obj
        elif isinstance(obj, np.ndarray):
            a = obj
            if a.ndim == 3 and a.shape[2] == 1:
                a = a[:, :, 0]
            if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
                return None
            if a.dtype == np.bool_:
                a = a.astype(np.uint8) * 255
            elif a.dtype != np.uint8:
                a = a.astype(np.float64)
                lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
                if a.ndim == 3 and lo >= 0.0 and hi <= 1.0:
                    a = a * 255.0
                elif hi > lo and (lo < 0.0 or hi > 255.0 or a.ndim == 2):
                    a = (a - lo) / (hi - lo) * 255.0
                a = np.clip(np.nan_to_num(a), 0, 255).astype(np.uint8)
            img = Image.fromarray(np.ascontiguousarray(a))
        else:
            return None
        if img.mode != "RGB":
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
                bg.alpha_composite(img.convert("RGBA"))
                img = bg.convert("RGB")
            else:
                img = img.convert("RGB")
        return img, region

    def show(self, obj, note=None):
        if len(self.shown) >= self.max_images:
            raise MemoryError("this action already showed %d images (limit)" % self.max_images)
        got = self.to_rgb(obj)
        if got is None:
            raise TypeError("cannot show a %s as an image" % type(obj).__name__)
        img, region = got
        w, h = img.size
        if w == 0 or h == 0:
            raise ValueError("cannot show an empty image (%dx%d)" % (w, h))
        if w > self.max_side or h > self.max_side or w * h > self.max_pixels:
            raise MemoryError("an image of %dx%d is over the limit (%d px per side, %d pixels)" % (w, h, self.max_side, self.max_pixels))
        self.shown.append((img, region))

    def show_figure(self, fig):
        import numpy as np
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        self.show(rgba[:, :, :3].copy())

    def display(self, *objs, **_kwargs):
        """IPython's display(): images, arrays and figures become images; anything else is printed."""
        for obj in objs:
            if hasattr(obj, "canvas") and hasattr(obj, "savefig"):
                self.show_figure(obj)
            elif self.to_rgb(obj) is not None:
                self.show(obj)
            else:
                print(repr(obj))

    def load_images(self, entries, blobs):
        Image = self.Image
        it = iter(blobs)
        for e in entries:
            name = e["name"]
            if e.get("known"):
                continue  # an operator map this process named itself
            if "returned" in e:
                img = self.returned[int(e["returned"])][0]
            else:
                enc = bytes(next(it)) if e.get("encoded") else None
                raw = None if enc is not None else bytes(next(it))
                img = None
                if enc is not None:
                    # Peer harnesses open the original file with Pillow; so do we,
                    # so the model sees the pixels it saw in training.
                    fname = os.path.basename(e.get("path") or "") or (name + "." + e.get("format", "img"))
                    local = os.path.join(self.scratch, fname)
                    with open(local, "wb") as f:
                        f.write(enc)
                    for key in filter(None, (e.get("path"), e.get("abs_path"))):
                        self.aliases[key] = local
                    try:
                        img = Image.open(local)
                        img.load()
                        if img.mode != "RGB":
                            img = img.convert("RGB")
                    except Exception:
                        img = None
                if img is None and raw is None:
                    raise ValueError("%s: Pillow cannot decode the source file and no pixels were sent" % name)
                if img is None:
                    img = Image.frombytes("RGB", (int(e["width"]), int(e["height"])), raw)
            if e.get("region") is not None:
                img._trutheye_region = list(e["region"])
            # Still the host's image (pixels, source file) until code changes it in place.
            img._trutheye_name = name
            self.ns[name] = img
            self.images.append(name)
            if name.startswith("image_clue_"):
                # DeepEyesV2 numbers its inputs from 1: image_1 is image_clue_0.
                self.ns["image_%d" % (int(name[len("image_clue_"):]) + 1)] = img
                if name == "image_clue_0" and enc is not None:
                    self.ns.setdefault("image_path", local)  # Thyme's name for the input file

    # -- operators -----------------------------------------------------------

    def operator_function(self, op):
        ep = self
        def call(image=None, **params):
            if image is None:
                image = params.pop("img", None)
            if image is None:
                raise TypeError("%s() missing 1 required positional argument: 'image'" % op)
            pristine = getattr(image, "_trutheye_name", None) if isinstance(image, ep.Image.Image) else None
            if pristine is not None and ep.ns.get(pristine) is image:
                # An unchanged episode image: the host runs the operator on its own
                # copy (decoded pixels and the source file that JPEG operators read).
                send_msg(ep.sock, {"type": "call", "name": op, "params": params, "episode_image": pristine})
            else:
                got = ep.to_rgb(image)
                if got is None:
                    raise TypeError("%s() takes an image (PIL image or array), not %s" % (op, type(image).__name__))
                img, region = got
                send_msg(ep.sock, {"type": "call", "name": op, "params": params, "width": img.width,
                                   "height": img.height, "region": region, "blobs": 1}, [img.tobytes()])
            reply, blobs = recv_msg(ep.sock, ep.max_frame)
            if reply.get("type") != "called":
                raise RuntimeError("operator channel: unexpected %r" % reply.get("type"))
            if reply.get("error"):
                exc = {"TypeError": TypeError, "NameError": NameError}.get(reply.get("error_type"), RuntimeError)
                raise exc(reply["error"])
            print(reply.get("text", ""))
            result = {"summary": reply.get("summary", ""), "stats": reply.get("stats", {}), "regions": reply.get("regions", [])}
            m = reply.get("map")
            if m is not None and blobs:
                result["map"] = ep.Image.frombytes("RGB", (int(m["width"]), int(m["height"])), bytes(blobs[0]))
                ep.ns[m["name"]] = result["map"]
                ep.images.append(m["name"])
            return result
        call.__name__ = op
        call.__qualname__ = op
        call.__doc__ = "trutheye forensic operator %s(image, **params): runs on the host, returns summary, stats, regions, map." % op
        return call

    # -- one action ----------------------------------------------------------

    def run(self, req):
        import matplotlib.pyplot as plt
        code = req.get("code", "")
        index = req.get("image_index")
        ns = self.ns
        # `image`/`img`/`draw` are made only for code that names them (a copy of a
        # 12 MP image costs ~20 ms), then kept, or replaced when an index is given.
        wants = CODEVISION_NAMES.search(code) is not None
        if wants and (index is not None or "image" not in ns):
            name = "image_clue_%d" % (index or 0)
            if name in ns:
                # CodeVision hands its code a copy: drawing on `image` leaves image_clue_k intact.
                ns["image"] = ns["img"] = ns[name].copy()
                ns.pop("draw", None)
        for key in ("image", "img"):
            if wants and key in ns and "draw" not in ns:
                from PIL import ImageDraw
                try:
                    ns["draw"] = ImageDraw.Draw(ns[key])
                except Exception:
                    pass
                break
        watched = {k: id(ns.get(k)) for k in RESULT_NAMES}
        started_ns = time.time_ns() - 1_000_000
        self.shown = []
        self.saved_figs = set()
        error = None
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = self.out, self.err
        if self.dialect == "thyme":
            code = thyme_rewrite(code, ns)
        # Thyme's harness points its models' save directory into the sandbox.
        if THYME_SAVE_DIR in code:
            local = os.path.join(self.scratch, "temp_processed_images")
            os.makedirs(local, exist_ok=True)
            code = code.replace(THYME_SAVE_DIR, local + "/")
        started = time.monotonic()
        try:
            tree = compile(code, "<code>", "exec")
            exec(tree, ns)
            # Figures left open at the end are shown, as a notebook shows them.
            for num in list(plt.get_fignums()):
                fig = plt.figure(num)
                if id(fig) not in self.saved_figs:
                    self.show_figure(fig)
                plt.close(fig)
            for k in RESULT_NAMES:
                v = ns.get(k)
                if v is not None and id(v) != watched[k] and self.to_rgb(v) is not None:
                    self.show(v)
                    break  # one result image, in CodeVision's order of precedence
            self.collect_files(started_ns)
        except BaseException as e:  # the model's exceptions, SystemExit, KeyboardInterrupt
            error = describe_error(e)
            plt.close("all")
        finally:
            sys.stdout, sys.stderr = old
        text, dropped = self.out.take()
        self.err.take()
        self.returned = self.shown
        self.shown = []
        blobs = []
        images = []
        for img, region in self.returned:
            images.append({"width": img.width, "height": img.height, "region": region})
            blobs.append(img.tobytes())
        return {"type": "result", "stdout": text, "dropped": dropped, "error": error, "images": images,
                "ms": round((time.monotonic() - started) * 1000.0, 3), "blobs": len(blobs)}, blobs

    def collect_files(self, started_ns):
        """Image files this action wrote and named, by printing the path (Thyme)
        or in `processed_path`: anything under /tmp (the scratch tmpfs)."""
        printed = "".join(self.out.parts)
        names = re.findall(r"[\w./~-]+\.(?:png|jpe?g|bmp|gif|tiff?|webp)\b", printed, flags=re.IGNORECASE)
        extra = self.ns.get("processed_path")
        if isinstance(extra, str):
            names.append(extra)
        seen = set()
        for name in names:
            path = os.path.realpath(os.path.join(self.scratch, name))
            if path in seen or not path.startswith("/tmp/"):
                continue
            seen.add(path)
            try:
                st = os.stat(path)
            except OSError:
                continue
            if st.st_mtime_ns < started_ns:
                continue
            try:
                with self.Image.open(path) as f:
                    f.load()
                    self.show(f.copy())
            except (OSError, ValueError, SyntaxError):
                continue


# --------------------------------------------------------------------------
# dialects: rules one peer's harness applies that the union cannot

THYME_BOX_NAMES = {"crop_box", "bbox", "box", "coordinates", "coords", "crop_coords",
                   "left_crop_coords", "right_crop_coords", "top_crop_coords", "bottom_crop_coords"}
THYME_CORNER_NAMES = {"x1", "y1", "x2", "y2", "left", "top", "right", "bottom"}
THYME_MIN_SIDE = 64


def thyme_clamp(box, width, height):
    """Thyme's sandbox clamps literal crop boxes into the image, at least 64 px a side."""
    x1, y1, x2, y2 = (float(v) for v in box)
    out = []
    for lo, hi, size in ((min(x1, x2), max(x1, x2), float(width)), (min(y1, y2), max(y1, y2), float(height))):
        a = min(max(0.0, lo), size - 1.0 if size > 0 else 0.0)
        b = min(max(0.0, hi), size)
        if a >= b and size > 0:
            a = max(0.0, b - 1.0)
            if b <= a:
                b = min(size, a + 1.0)
        if size > 0 and b - a < THYME_MIN_SIDE:
            if size < THYME_MIN_SIDE:
                a, b = 0.0, size
            else:
                b = a + THYME_MIN_SIDE
                if b > size:
                    b = size
                    a = max(0.0, b - THYME_MIN_SIDE)
        if size > 0 and a >= b:
            b = min(size, a + 1.0)
        out.append((a, b))
    (ax, bx), (ay, by) = out
    return [ax, ay, bx, by]


def thyme_rewrite(code, ns):
    """What Thyme's sandbox does to code before running it: line up a stray first
    line, dedent, point an `image_path` that names no file at the episode's image,
    clamp literal crop boxes, and print floats with 8 decimals."""
    import ast
    import textwrap
    lines = code.splitlines()
    body = [i for i, l in enumerate(lines) if l.strip()]
    if len(body) >= 2:
        first, second = lines[body[0]], lines[body[1]]
        indent = second[: len(second) - len(second.lstrip(" "))]
        if first[: len(first) - len(first.lstrip(" "))] != indent:
            lines[body[0]] = indent + first.lstrip(" ")
    code = textwrap.dedent("\n".join(lines)).strip()
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    base = ns.get("image_clue_0")
    size = getattr(base, "size", None)
    changed = False

    def literal_box(node):
        if isinstance(node, ast.Tuple) and len(node.elts) == 4 and all(
                isinstance(e, ast.Constant) and isinstance(e.value, (int, float)) and not isinstance(e.value, bool)
                for e in node.elts):
            return [e.value for e in node.elts]
        return None

    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "image_path" and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str) and not os.path.isfile(node.value.value) and "image_path" in ns:
            node.value = ast.Constant(ns["image_path"])
            changed = True
            continue
        box = literal_box(node.value)
        if box is None or size is None:
            continue
        named = (isinstance(target, ast.Tuple) and len(target.elts) == 4
                 and all(isinstance(e, ast.Name) for e in target.elts)
                 and any(e.id.lower() in THYME_CORNER_NAMES for e in target.elts)) or \
                (isinstance(target, ast.Name) and target.id in THYME_BOX_NAMES)
        if not named:
            continue
        new = [int(round(v)) for v in thyme_clamp(box, size[0], size[1])]
        if new != [int(round(v)) for v in box]:
            node.value = ast.Tuple([ast.Constant(v) for v in new], ast.Load())
            changed = True
    if changed:
        code = ast.unparse(ast.fix_missing_locations(tree))
    return re.sub(r":\.\d{1}f}", ":.8f}", code)


def describe_error(e):
    kind = type(e).__name__
    msg = str(e)
    line = None
    if isinstance(e, SyntaxError) and e.filename == "<code>":
        line = e.lineno
        msg = e.msg
    else:
        for fr in traceback.extract_tb(e.__traceback__):
            if fr.filename == "<code>":
                line = fr.lineno
    if len(msg) > 1024:
        msg = msg[:1024] + "... [message truncated]"
    msg = msg.encode("utf-8", "replace").decode("utf-8")
    return {"type": kind, "message": msg, "line": line}


def episode(fd, cfg, strict, spawn):
    sock = socket.socket(fileno=fd)
    try:
        ep = start_episode(sock, cfg, strict, spawn)
    except BaseException as e:
        # The host shows this instead of a bare "exited".
        send_msg(sock, {"type": "error", "message": "episode setup failed: %s: %s" % (type(e).__name__, e)})
        return
    serve_episode(sock, ep)


def start_episode(sock, cfg, strict, spawn):
    os.chdir("/tmp")
    scratch = scratch_dir(os.getpid())
    os.mkdir(scratch, 0o700)
    os.chdir(scratch)
    os.environ["HOME"] = scratch
    null = os.open("/dev/null", os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    os.close(null)
    read_dirs = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/proc", "/tmp/.matplotlib"] + list(cfg.get("read_dirs", []))
    landlock(read_dirs, ["/dev"], scratch)
    lock_down(cfg, strict)
    ep = Episode(sock, cfg, spawn)
    # Reproducible episodes: the same code draws the same "random" numbers.
    import random
    import numpy
    random.seed(0)
    numpy.random.seed(0)
    send_msg(sock, {"type": "ready", "pid": os.getpid(), "scratch": scratch})
    return ep


def serve_episode(sock, ep):
    while True:
        try:
            req, blobs = recv_msg(sock, ep.max_frame)
        except EOFError:
            return
        kind = req.get("type")
        if kind == "images":
            ep.load_images(req.get("images", []), blobs)
            send_msg(sock, {"type": "loaded", "count": len(ep.images)})
        elif kind == "run":
            reply, out = ep.run(req)
            send_msg(sock, reply, out)
        else:
            send_msg(sock, {"type": "error", "message": "unknown message %r" % kind})


if __name__ == "__main__":
    main()
