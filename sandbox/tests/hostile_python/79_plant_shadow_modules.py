# attempts: plant json.py, PIL/, numpy.py, sitecustomize.py in scratch so a later action (or the harness prelude) imports them
# category: escape
import builtins
import os
import sys

if builtins.__dict__.get("_trutheye_planted_ran"):
    print("ESCAPED: a module planted in scratch by an earlier action was imported")
else:
    import json  # noqa: F401  (runs a planted json.py if one survived from an earlier action)
    if not builtins.__dict__.get("_trutheye_planted_ran"):
        payload = ("import builtins, os\nbuiltins._trutheye_planted_ran = True\n"
                   "os.write(1, b'ESCAPED: planted module ' + __name__.encode() + b' was imported\\n')\n")
        for rel in ("json.py", "numpy.py", "pickle.py", "sitecustomize.py", "usercustomize.py", "PIL/__init__.py"):
            os.makedirs(os.path.dirname(rel) or ".", exist_ok=True)
            with open(rel, "w") as f:
                f.write(payload)
        sys.stdout.flush()
        raise PermissionError("shadow modules planted in scratch; later actions must not import them")
    print("ESCAPED: a module planted in scratch by an earlier action was imported")
