# attempts: learn host image paths (image_clue_0.filename/.fp, path strings held by the harness via gc), climb to the repo CANARY, open the source for writing
# category: fs
import gc
import os

capped = {os.stat(".").st_dev} | ({os.stat("/tmp").st_dev} if os.path.isdir("/tmp") else set())
paths = {getattr(image_clue_0, "filename", "") or "", getattr(getattr(image_clue_0, "fp", None), "name", "") or ""}
for obj in gc.get_objects():  # the harness's own dicts (aliases, image entries) live in this interpreter
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:64]:
            for s in (k, v):
                if isinstance(s, str) and s.startswith("/") and s.lower().endswith((".png", ".jpg", ".jpeg")):
                    paths.add(s)
errors, won = [], []
for src in sorted(p for p in paths if isinstance(p, str) and p.startswith("/")):
    d = os.path.dirname(src)
    while d != "/":
        for rel in ("CANARY", "sandbox/tests/hostile_python/CANARY", "canary.txt"):
            try:
                with open(os.path.join(d, rel)) as f:
                    if "TRUTHEYE-CANARY" in f.read():
                        won.append(f"read canary at {os.path.join(d, rel)}")
            except OSError as e:
                errors.append(e)
        d = os.path.dirname(d)
    try:
        if os.stat(src).st_dev not in capped:
            open(src, "r+b").close()  # write access to the episode's original image
            won.append(f"source image {src} is writable")
    except OSError as e:
        errors.append(e)
if won:
    print("ESCAPED: " + "; ".join(won))
else:
    raise errors[-1] if errors else FileNotFoundError(f"no host path reachable from {sorted(paths)}")
