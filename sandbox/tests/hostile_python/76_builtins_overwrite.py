# attempts: overwrite/delete builtins (print, open, len, repr, isinstance, Exception, a poisoned __import__) so later actions break
# category: escape
import builtins
import os

if builtins.__dict__.get("_trutheye_tampered"):
    # only possible if the same interpreter is reused and the tampering survived
    os.write(1, b"ESCAPED: builtins tampering from an earlier action is still in effect\n")
    print("ESCAPED: builtins tampering from an earlier action is still in effect")
else:
    real_import, real_print = builtins.__import__, builtins.print

    def poisoned_import(name, *args, **kwargs):
        if name.split(".")[0] in ("json", "PIL", "numpy", "pickle", "base64", "traceback"):
            raise ImportError(f"poisoned import of {name}")
        return real_import(name, *args, **kwargs)

    builtins._trutheye_tampered = True  # the host test's follow-up action prints this flag
    builtins.__import__ = poisoned_import
    builtins.print = lambda *a, **k: real_print(*a, "[print tampered]", **k)  # later output is corrupted
    builtins.open = None
    builtins.Exception = None  # a harness 'except Exception:' now raises TypeError
    del builtins.len, builtins.repr, builtins.isinstance
    raise PermissionError("builtins tampered; the next action must still see pristine builtins")
