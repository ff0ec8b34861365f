#!/usr/bin/env python3
"""Held-out localization of the scripted agent: each tampered image is scored
with a fusion fitted without it.

    python3 eval/scripts/cv_localization.py --trutheye target/release/trutheye \
        --data ../shared/bench/dev --out runs/cv-loc [--folds 5] [--seed 42]

1. ``trutheye train fusion --fold-configs OUT/folds`` fits the fusion on all
   tampered images (``OUT/fusion.toml``; this is how ``configs/fusion.toml``
   was made) and, for each fold, on the other folds only (``fold-K.toml``,
   with the fold's ids in ``fold-K.ids``). ``--select`` passes train fusion's
   ``--select`` (each fold's fit also chooses its maps); ``--fusion-folds DIR``
   reuses such a directory from an earlier run with the same ``--seed``.
2. Each fold's images are evaluated (``trutheye eval``, every strategy given)
   with the agent config ``configs/default.toml`` plus that fold's
   ``[localization]``, so no image is localized by a fusion fitted on it.
3. With ``--scorer-features``, the verdict is held out too: each fold's
   scripted scorer is refitted (``trutheye train scorer``) without that fold's
   images (the images the fusion's folds do not cover, i.e. those without a
   mask, are shuffled with ``--seed`` within each label and dealt to the folds
   in turn, the deal continuing across labels as ``train scorer``'s own folds
   do, so every split keeps the set's class balance), and the fold is
   evaluated with it. The feature list itself was chosen on the whole set. Without it
   the shipped scorer (fitted on the whole set) decides which images are
   called tampered, so only the masks are held out.
   With ``--group-by FIELD [--group-pattern REGEX]`` (passed to ``train
   fusion``, which then holds out whole groups, e.g. every crop of one photo),
   an image without a mask joins the fold of its group's tampered images, and
   groups with none are dealt in turn, so no photo is on both sides of a split.
   The pattern is applied with Python's ``re`` here and Rust's ``regex`` in
   ``train fusion``: keep to what both read alike (``^(\S+)`` does).
4. The figures are pooled over folds (means over images) and printed next to
   the in-sample ones of the fit on everything, read from ``--full-run`` when
   given (a ``trutheye eval`` run directory over the same data).
5. The folds' runs are joined into one run directory, ``OUT/held-out`` (its
   ``run.json`` names ``--data`` as the dataset), and
   reported with ``trutheye eval report`` (with ``--group-by`` when given), so
   its ``report.md`` compares the strategies image by image on held-out
   answers: labels, McNemar's test and the per-image pixel F1 difference,
   and with a grouping their clustered forms. The script prints that table.
   The folds evaluate the images with a mask, so the labels compared are
   those of the tampered images.

Only the standard library is used; ``--json`` prints one object.
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys

# pixel_f1_map: the agent's fused map whatever its verdict (map quality with
# detection left out, the counterpart of a baseline's pixel_f1_fixed).
METRICS = ["pixel_f1_fixed", "pixel_iou_fixed", "bbox_iou", "pixel_f1_best", "pixel_f1_map"]


def run(cmd):
    print("+ " + " ".join(cmd), file=sys.stderr)
    # The commands print their JSON reports; this script prints its own.
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def manifest_rows(data):
    path = os.path.join(data, "manifest.jsonl") if os.path.isdir(data) else data
    base = os.path.dirname(os.path.abspath(path))
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                # Rows without a string id or an existing image file are skipped, as
                # trutheye skips them (it also skips rows for other reasons: their
                # labels and masks are read by trutheye, not here).
                if not isinstance(row.get("id"), str) or not row["id"] or not isinstance(row.get("image"), str):
                    print(f"warning: skipped manifest row {line.strip()[:80]!r}: no id or no image", file=sys.stderr)
                    continue
                for key in ("image", "mask"):
                    if isinstance(row.get(key), str) and row[key] and not os.path.isabs(row[key]):
                        row[key] = os.path.join(base, row[key])
                if not os.path.isfile(row["image"]):
                    print(f"warning: skipped manifest row {row['id']!r}: no image file {row['image']}", file=sys.stderr)
                    continue
                rows.append(row)
    return rows


def localization(run_dir):
    with open(os.path.join(run_dir, "metrics.json")) as f:
        groups = json.load(f)["groups"]
    return {f"{g['policy']}/{g['strategy']}": g["localization"] for g in groups}


def join_runs(run_dirs, dst, data):
    """The fold runs as one run directory (each image is in one fold only),
    recording ``data`` as its dataset, so a later ``trutheye eval report`` of
    it finds every fold's masks."""
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    for name in ("predictions.jsonl", "trajectories.jsonl"):
        with open(os.path.join(dst, name), "w") as out:
            for d in run_dirs:
                src = os.path.join(d, name)
                if os.path.isfile(src):
                    with open(src) as f:
                        text = f.read()
                    out.write(text if not text or text.endswith("\n") else text + "\n")
    for d in run_dirs:
        if os.path.isdir(os.path.join(d, "heatmaps")):
            shutil.copytree(os.path.join(d, "heatmaps"), os.path.join(dst, "heatmaps"), dirs_exist_ok=True)
    with open(os.path.join(run_dirs[0], "run.json")) as f:
        record = json.load(f)
    # The fold's sample counts would mislead here: keep only what names the data.
    record["dataset"] = {"path": os.path.abspath(data), "kind": record.get("dataset", {}).get("kind")}
    record["joined_from"] = [os.path.abspath(d) for d in run_dirs]
    with open(os.path.join(dst, "run.json"), "w") as f:
        json.dump(record, f, indent=2)


def paired_table(paired):
    """The held-out paired comparison as markdown rows."""
    grouped = any(c.get("clustered") for c in paired)
    lines = ["| A | B | images | labels differ | only A right | only B right | McNemar p"
             + (" | clustered p" if grouped else "") + " | pixel F1 differs on | mean pixel F1, B − A (95% CI)"
             + (" | 95% CI, groups resampled" if grouped else "") + " |"]
    lines.append("|---|---|" + "---:|" * (5 + grouped + 1) + "---|" * (1 + grouped))
    for c in paired:
        loc = c.get("localization") or {}
        cells = [c["a"], c["b"], c["n"], c["labels_differ"], c["only_a_right"], c["only_b_right"], f"{c['mcnemar_p']:.3g}"]
        if grouped:
            cells.append(f"{c['clustered']['p']:.3g}" if c.get("clustered") else "—")
        cells.append(loc.get("differ", "—"))
        cells.append(f"{100 * loc['mean']:+.1f} ({100 * loc['ci95'][0]:+.1f} to {100 * loc['ci95'][1]:+.1f})" if loc else "—")
        if grouped:
            ci = loc.get("clustered_ci95")
            cells.append(f"{100 * ci['ci95'][0]:+.1f} to {100 * ci['ci95'][1]:+.1f} ({ci['groups']} groups)" if ci else "—")
        lines.append("| " + " | ".join(str(x) for x in cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trutheye", default="target/release/trutheye")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--strategy", default="pvr,registry,hybrid")
    ap.add_argument("--operators", help="operators whose maps are fused (train fusion's --operators; default: its own)")
    ap.add_argument("--select", action="store_true", help="train fusion's --select: each fold's fusion also chooses which maps to fuse")
    ap.add_argument("--fusion-folds", help="reuse the fold fits of an earlier `train fusion --fold-configs DIR` (same data, --folds, --seed, --group-by and --group-pattern) instead of fitting them again")
    ap.add_argument("--default-config", default=os.path.join(os.path.dirname(__file__), "../../configs/default.toml"))
    ap.add_argument("--scorer-features", help="refit the scripted scorer per fold on these features (train scorer's --features; see configs/scripted.toml)")
    ap.add_argument("--scorer-l2", default="10", help="train scorer's --l2 for --scorer-features")
    ap.add_argument("--full-run", help="an eval run over the same data with the fit on everything (in-sample figures)")
    ap.add_argument("--group-by", help="train fusion's --group-by: hold out whole groups (a manifest field, e.g. source)")
    ap.add_argument("--group-pattern", help="train fusion's --group-pattern: the group is this regex's first capture group in the field")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.group_pattern and not a.group_by:
        sys.exit("--group-pattern needs --group-by")
    if a.full_run and not os.path.isfile(os.path.join(a.full_run, "metrics.json")):
        # Checked before the folds run, not after a minute of fitting.
        sys.exit(f"--full-run {a.full_run}: no metrics.json there; make it first with "
                 f"`trutheye eval --data {a.data} --out {a.full_run}` (the in-sample run)")
    grouping = (["--group-by", a.group_by] + (["--group-pattern", a.group_pattern] if a.group_pattern else [])) if a.group_by else []

    os.makedirs(a.out, exist_ok=True)
    folds_dir = a.fusion_folds or os.path.join(a.out, "folds")
    if a.fusion_folds:
        missing = [f for k in range(a.folds) for f in (f"fold-{k}.toml", f"fold-{k}.ids") if not os.path.isfile(os.path.join(folds_dir, f))]
        if missing:
            sys.exit(f"--fusion-folds {folds_dir}: missing {', '.join(missing)} (made with another --folds?)")
    else:
        run([a.trutheye, "train", "fusion", "--data", a.data, "--out", os.path.join(a.out, "fusion.toml"),
             "--folds", str(a.folds), "--seed", str(a.seed), "--fold-configs", folds_dir, "--json"] + grouping
            + (["--operators", a.operators] if a.operators else []) + (["--select"] if a.select else []))
    rows = {}
    for r in manifest_rows(a.data):
        rows.setdefault(r["id"], r)  # a repeated id: the first row, as trutheye keeps it
    with open(a.default_config) as f:
        base_config = f.read()

    tampered_ids = set()
    fold_of_tampered = {}
    for k in range(a.folds):
        with open(os.path.join(folds_dir, f"fold-{k}.ids")) as f:
            for i in (l.strip() for l in f):
                if i:
                    tampered_ids.add(i)
                    fold_of_tampered[i] = k
    others_in_fold = {}
    rng = random.Random(a.seed)
    deal = 0
    if a.group_by:
        pattern = re.compile(a.group_pattern) if a.group_pattern else None

        def group_of(i):
            # The rules of trutheye's GroupBy::key (eval/src/grouping.rs).
            value = rows[i].get(a.group_by)
            if value is None:
                sys.exit(f"{i}: no `{a.group_by}` field to group by (--group-by)")
            value = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            if not pattern:
                if not value:
                    sys.exit(f"{i}: `{a.group_by}` is empty, so it names no group (--group-by)")
                return value
            m = pattern.search(value)
            if not m:
                sys.exit(f"{i}: `{a.group_by}` = {value!r} does not match --group-pattern")
            key = m.group(1) if m.re.groups and m.group(1) is not None else m.group(0)
            if not key:
                sys.exit(f"{i}: --group-pattern matches an empty group in {value!r}")
            return key

        group_fold = {}
        for i, k in fold_of_tampered.items():
            if group_fold.setdefault(group_of(i), k) != k:
                sys.exit(f"the fusion folds split group {group_of(i)!r} (made without the same --group-by/--group-pattern?): "
                         "no photo may be on both sides of a split")
        loose = sorted({group_of(i) for i in rows if i not in tampered_ids} - set(group_fold))
        rng.shuffle(loose)
        for g in loose:
            group_fold[g] = deal % a.folds
            deal += 1
        others_in_fold = {i: group_fold[group_of(i)] for i in rows if i not in tampered_ids}
    for label in [] if a.group_by else sorted({r.get("label") for i, r in rows.items() if i not in tampered_ids}, key=str):
        same = sorted(i for i, r in rows.items() if i not in tampered_ids and r.get("label") == label)
        rng.shuffle(same)
        for i in same:
            others_in_fold[i] = deal % a.folds
            deal += 1
    pooled = {}  # group -> metric -> [sum, n]
    run_dirs = []
    for k in range(a.folds):
        with open(os.path.join(folds_dir, f"fold-{k}.ids")) as f:
            ids = [l.strip() for l in f if l.strip()]
        subset = os.path.join(a.out, f"fold-{k}.jsonl")
        with open(subset, "w") as f:
            for i in ids:
                f.write(json.dumps(rows[i]) + "\n")
        with open(os.path.join(folds_dir, f"fold-{k}.toml")) as f:
            fusion = f.read()
        config = os.path.join(a.out, f"fold-{k}.agent.toml")
        with open(config, "w") as f:
            f.write(base_config.rstrip() + "\n\n" + fusion)
        scorer = []
        if a.scorer_features:
            # The images without a mask are only left out of fitting, never
            # localized (see the docstring).
            held_ids = set(ids) | {i for i in others_in_fold if others_in_fold[i] == k}
            train = os.path.join(a.out, f"fold-{k}.train.jsonl")
            with open(train, "w") as f:
                for i, r in rows.items():
                    if i not in held_ids:
                        f.write(json.dumps(r) + "\n")
            scripted = os.path.join(a.out, f"fold-{k}.scripted.toml")
            run([a.trutheye, "train", "scorer", "--data", train, "--features", a.scorer_features,
                 "--l2", a.scorer_l2, "--config", config, "--out", scripted, "--json"])
            scorer = ["--scripted-config", scripted]
        # --resume reuses earlier predictions, which a refitted scorer (of
        # whatever feature list) would not have made: those runs start afresh.
        run_dir = os.path.join(a.out, f"eval-{k}" + ("-scorer" if a.scorer_features else ""))
        if a.scorer_features and os.path.isdir(run_dir):
            shutil.rmtree(run_dir)
        run([a.trutheye, "eval", "--data", subset, "--strategy", a.strategy, "--config", config,
             "--out", run_dir, "--json"] + ([] if a.scorer_features else ["--resume"]) + scorer)
        run_dirs.append(run_dir)
        for group, loc in localization(run_dir).items():
            n = loc.get("n_with_mask") or 0
            for m in METRICS:
                if loc.get(m) is not None:
                    s = pooled.setdefault(group, {}).setdefault(m, [0.0, 0])
                    s[0] += loc[m] * n
                    s[1] += n
    held = {g: {m: round(100 * s / n, 1) for m, (s, n) in ms.items() if n} for g, ms in pooled.items()}
    full = localization(a.full_run) if a.full_run else {}
    joined = os.path.join(a.out, "held-out")
    join_runs(run_dirs, joined, a.data)
    run([a.trutheye, "eval", "report", joined, "--data", a.data] + grouping)
    with open(os.path.join(joined, "metrics.json")) as f:
        paired = json.load(f).get("paired", [])
    if a.json:
        print(json.dumps({"verdict_held_out": bool(a.scorer_features), "held_out": held, "in_sample": {g: {m: round(100 * full[g][m], 1) for m in METRICS if full[g].get(m) is not None} for g in held if g in full},
                          "paired": paired, "joined_run": joined}))
        return
    verdict = "verdict held out too" if a.scorer_features else "masks held out, verdict by the shipped scorer"
    grouped = f", whole groups of `{a.group_by}` held out" if a.group_by else ""
    print(f"held-out localization on tampered images ({a.folds} folds, seed {a.seed}{grouped}, {verdict}; %)")
    print("| agent | " + " | ".join(METRICS) + " | in-sample pixel_f1_fixed | in-sample pixel_f1_map |")
    print("|---|" + "---:|" * (len(METRICS) + 2))
    for g in sorted(held):
        ins = [full.get(g, {}).get(m) for m in ("pixel_f1_fixed", "pixel_f1_map")]
        print(f"| {g} | " + " | ".join(str(held[g].get(m, "—")) for m in METRICS)
              + "".join(f" | {'—' if v is None else round(100 * v, 1)}" for v in ins) + " |")
    if paired:
        print(f"\nstrategies compared image by image on the held-out answers ({joined}/report.md)")
        print(paired_table(paired))


if __name__ == "__main__":
    main()
