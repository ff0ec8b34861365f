# attempts: poison sys.modules (forged json, None for pickle/traceback/numpy/PIL.Image), swap sys.stdout, hijack sys.meta_path
# category: escape
import builtins
import io
import sys
import types

if "trutheye_marker" in sys.modules:
    print("ESCAPED: sys.modules tampering from an earlier action is still in effect")
else:
    sys.modules["trutheye_marker"] = types.ModuleType("trutheye_marker")
    builtins._trutheye_tampered = True  # the host test's follow-up action prints this flag
    fake = types.ModuleType("json")
    fake.dumps = lambda *a, **k: '{"ok": true, "forged": true}'
    fake.loads = lambda *a, **k: {"ok": True, "forged": True}
    sys.modules["json"] = fake
    for name in ("pickle", "marshal", "traceback", "numpy", "PIL.Image", "base64"):
        sys.modules[name] = None  # later 'import name' raises ImportError
    sys.meta_path.insert(0, types.SimpleNamespace(find_spec=lambda *a, **k: None))
    sys.stdout = io.StringIO()  # later prints vanish
    raise ImportError("sys.modules poisoned; the next action must run in a clean interpreter state")
