#!/usr/bin/env python3
"""Agreement of `trutheye pvr --backend python` with real CPython under each
project's own harness conventions (reference.py), on the real-model corpus.

    python compare.py --bin target/debug/trutheye [--python PY] [--json] [--out DIR]

Runs reference.py (plain CPython, no jail) over the whole corpus, then each
snippet through `trutheye pvr IMAGE --code DEP --code ... --code SNIPPET
--backend python --json` (earlier turns a snippet depends on are earlier
actions of the same episode), and compares, per snippet, what the issue asks:
success or failure (and the exception type), the number and sizes of the images
returned, and the printed text. The host side mirrors two things a harness does
before its executor runs: the input image a CodeVision/TruthEYE2 harness hands
over (resized by `fetch_image`, via reference.load_codevision_image) and the
mapping of the original image paths in the code to the episode's image.

Prints one line per disagreement and a summary; `--json` prints the summary as
JSON (what the cargo test reads).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def load_manifest():
    with open(os.path.join(HERE, "manifest.jsonl"), encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def snippet(sid):
    with open(os.path.join(HERE, "snippets", sid + ".py"), encoding="utf-8") as f:
        return f.read()


def normalise_stdout(text):
    text = re.sub(r"/tmp/episode-\d+", "$WORKDIR", text)
    return "\n".join(l.rstrip() for l in text.strip().splitlines())


def ours_stdout(obs):
    """The printed text of an observation: without the image notes and the error line."""
    text = obs["text"]
    if obs.get("error") and text.endswith(obs["error"]):
        text = text[: -len(obs["error"])]
    lines = text.splitlines()
    lines = [l for l in lines if not re.fullmatch(r"\[shown as image_clue_\d+: \d+x\d+\]", l)]
    if lines == ["(no output)"]:
        lines = []
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--out", default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--jobs", type=int, default=2, help="snippets run at once")
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="pvr-compare-")
    os.makedirs(out, exist_ok=True)
    image = os.path.join(out, "test_image.jpg")
    image2 = os.path.join(out, "test_image2.png")
    subprocess.run([args.python, os.path.join(HERE, "make_image.py"), "--out", out], check=True,
                   stdout=subprocess.DEVNULL)
    ref_path = os.path.join(out, "reference.jsonl")
    subprocess.run([args.python, os.path.join(HERE, "reference.py"), "--image", image, "--image2", image2,
                    "--corpus", HERE, "--out", ref_path], check=True, stdout=subprocess.DEVNULL)
    with open(ref_path, encoding="utf-8") as f:
        ref = {r["id"]: r for r in map(json.loads, filter(str.strip, f))}

    # Inputs as each harness hands them to its executor.
    sys.path.insert(0, HERE)
    import reference  # noqa: E402  (the same functions the reference run used)
    prepared = {}

    def input_for(entry):
        src = image2 if entry.get("input_image") == "secondary" else image
        if entry["convention"] == "codevision":
            if src not in prepared:
                p = os.path.join(out, "cv_" + os.path.basename(src).rsplit(".", 1)[0] + ".png")
                reference.load_codevision_image(src).save(p)
                prepared[src] = p
            return prepared[src]
        return src

    def one(entry):
        sid = entry["id"]
        img = os.path.abspath(input_for(entry))
        files = []
        for k, dep in enumerate(entry.get("depends_on", []) + [sid]):
            code = reference.map_image_paths(snippet(dep), entry.get("image_paths"), img)
            p = os.path.join(out, "%s.%d.py" % (sid, k))
            with open(p, "w", encoding="utf-8") as f:
                f.write(code)
            files += ["--code", p]
        dialect = {"thyme": "thyme", "truthEYE2": "trutheye2"}.get(entry["convention"], "union")
        cmd = [args.bin, "pvr", img, *files, "--backend", "python", "--python", args.python, "--json",
               "--dialect", dialect,
               "--timeout", str(args.timeout), "--out", os.path.join(out, "images", sid)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        lines = [l for l in run.stdout.splitlines() if l.startswith("{")]
        if run.returncode != 0 or not lines:
            return {"id": sid, "project": entry["project"], "agree": False,
                    "why": "trutheye failed: " + run.stderr.strip()[-300:]}
        obs = json.loads(lines[-1])
        r = ref[sid]
        ours = {
            "ok": obs["error"] is None,
            "error_type": obs["error"].split(":")[0].split(" (line")[0] if obs["error"] else None,
            "images": [[i["width"], i["height"]] for i in obs["images"] if i.get("shown", True)],
            "stdout": normalise_stdout(ours_stdout(obs)),
        }
        theirs = {"ok": r["ok"], "error_type": r["error_type"], "images": r["images"],
                  "stdout": normalise_stdout(r["stdout"])}
        why = []
        if ours["ok"] != theirs["ok"]:
            why.append("ok %s vs %s (%s / %s)" % (ours["ok"], theirs["ok"], obs["error"], r.get("error_message")))
        elif not ours["ok"] and ours["error_type"] != theirs["error_type"]:
            why.append("error %s vs %s" % (ours["error_type"], theirs["error_type"]))
        if ours["images"] != theirs["images"]:
            why.append("images %s vs %s" % (ours["images"], theirs["images"]))
        if ours["stdout"] != theirs["stdout"]:
            why.append("stdout %r vs %r" % (ours["stdout"][:200], theirs["stdout"][:200]))
        return {"id": sid, "project": entry["project"], "agree": not why, "why": "; ".join(why)}

    entries = load_manifest()
    for e in entries:
        input_for(e)  # prepare inputs before the threads start
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(one, entries))

    n = len(rows)
    agree = sum(r["agree"] for r in rows)
    by_project = {}
    for r in rows:
        a, t = by_project.get(r["project"], (0, 0))
        by_project[r["project"]] = (a + r["agree"], t + 1)
    summary = {"snippets": n, "agree": agree, "rate": round(agree / max(n, 1), 4),
               "by_project": {k: "%d/%d" % v for k, v in sorted(by_project.items())},
               "reference_ok": sum(1 for r in ref.values() if r["ok"]),
               "disagreements": [{"id": r["id"], "why": r["why"]} for r in rows if not r["agree"]]}
    with open(os.path.join(out, "compare.json"), "w") as f:
        json.dump(summary, f, indent=1)
    if args.json:
        print(json.dumps(summary))
    else:
        for r in rows:
            if not r["agree"]:
                print("DISAGREE %-28s %s" % (r["id"], r["why"]))
        print("agreement: %d/%d (%.1f%%); by project: %s; reference ok: %d" % (
            agree, n, 100.0 * agree / max(n, 1), summary["by_project"], summary["reference_ok"]))


if __name__ == "__main__":
    main()
