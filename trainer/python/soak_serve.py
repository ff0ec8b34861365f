#!/usr/bin/env python3
"""Soak benchmark of ``trutheye serve`` under its memory budget (not a test).

N client threads run episodes for a fixed time against one server. Most
episodes are normal (open the sample photo, three PVR turns that crop, enhance
and measure, an answer, close); a share are hostile, one of:

* ``alloc``   - a list of 1 MB strings grown until something stops it;
* ``spin``    - ``while True: pass``;
* ``resize``  - an 8000x8000 resize, shown;
* ``show``    - twenty 1500x1500 crops shown in one turn;
* ``bigopen`` - ``open`` with eight 6000x5000 images (720 MB decoded);
* ``leak``    - a session opened, used once and never closed (the reaper's job).

A sampler reads the private resident memory (RssAnon + RssShmem) of the server
and every process below it four times a second. At the end it prints one table
row: clients, minutes, turns, hostile share, peak memory vs the budget, p50/p99
latency of normal turns, refusals, and sessions lost (a normal episode that
failed for any reason, or whose connection broke; refusals, ``over_budget``
and ``too_many_sessions``, are retried after 250 ms for up to two minutes, as
a trainer would, and counted). Standard library only.

    python3 trainer/python/soak_serve.py --bin target/release/trutheye --clients 32 --minutes 10 --budget 6G
"""

import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trutheye_swift import TruthEyeClient, TruthEyeError  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLE = os.path.join(ROOT, "samples", "authentic-dev-000.jpg")

NORMAL_TURNS = [
    "<think>look closer</think><code>c = image.crop((100, 100, 356, 356))\nresult = c</code>",
    "<code>from PIL import ImageEnhance\nresult = ImageEnhance.Contrast(image.crop((0, 0, 320, 320))).enhance(1.6)\nprint(result.size)</code>",
    "<code>a = np.array(image.convert('L'))\nprint(float(a.mean()), float(a.std()))</code>",
]
HOSTILE = {
    "alloc": "<code>s = 'x' * 1000000\nL = []\nwhile True:\n    L.append(s + str(len(L)))</code>",
    "spin": "<code>while True:\n    pass</code>",
    "resize": "<code>result = image.resize((8000, 8000))</code>",
    "show": "<code>for i in range(20):\n    plt.imshow(image.resize((1500, 1500)))\n    plt.show()</code>",
}


def flat_png(w, h, value=90):
    """A w x h grey PNG (compresses to almost nothing, decodes to w*h*3 bytes)."""
    row = b"\x00" + bytes([value]) * (w * 3)
    raw = zlib.compress(row * h, 1)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def tree_private_rss(root):
    """RssAnon + RssShmem of `root` and all its descendants, in bytes."""
    parent = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            parent[int(name)] = int(stat[stat.rfind(")") + 1 :].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    tree, i = [root], 0
    while i < len(tree):
        tree += [c for c, p in parent.items() if p == tree[i]]
        i += 1
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(("RssAnon:", "RssShmem:")):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def pct(vals, p):
    if not vals:
        return float("nan")
    vals = sorted(vals)
    return vals[min(len(vals) - 1, max(0, round(p / 100 * (len(vals) - 1))))]


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.normal_ms = []
        self.turns = 0
        self.hostile_turns = 0
        self.episodes = {"normal": 0}
        self.lost = []
        self.refused = 0
        self.hostile_outcomes = {}

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


RETRY_CODES = ("over_budget", "too_many_sessions")


def call_retrying(t, fn, *a, **kw):
    """Calls `fn`, retrying refusals (over_budget, too_many_sessions) after a
    short pause for up to two minutes, as a trainer would; counts them."""
    deadline = time.time() + 120
    while True:
        try:
            return fn(*a, **kw)
        except TruthEyeError as e:
            if e.code not in RETRY_CODES or time.time() > deadline:
                raise
            t.add(refused=1)
            time.sleep(0.25)


def normal_episode(c, t):
    sid = call_retrying(t, c.open, SAMPLE, strategy="pvr")["session"]
    for text in NORMAL_TURNS:
        t0 = time.perf_counter()
        r = call_retrying(t, c.execute, sid, text)
        ms = (time.perf_counter() - t0) * 1000
        obs = r["observation"] or {}
        if obs.get("error"):
            raise RuntimeError(f"normal turn failed: {obs['error']}")
        with t.lock:
            t.normal_ms.append(ms)
            t.turns += 1
    r = call_retrying(t, c.execute, sid, "<answer>authentic</answer>")
    if not r["done"]:
        raise RuntimeError("answer did not end the episode")
    c.close(sid)
    t.add(turns=1)
    with t.lock:
        t.episodes["normal"] += 1


def hostile_episode(c, t, kind, big_png):
    outcome = "ok"
    try:
        if kind == "bigopen":
            c.open(None, images=[big_png] * 8)
            outcome = "opened"
        else:
            sid = call_retrying(t, c.open, SAMPLE, strategy="pvr")["session"]
            if kind == "leak":
                call_retrying(t, c.execute, sid, NORMAL_TURNS[0])
                outcome = "left open"
            else:
                r = call_retrying(t, c.execute, sid, HOSTILE[kind])
                obs = r["observation"] or {}
                err = obs.get("error") or ""
                outcome = err.split(":")[0] if err else ("withheld" if "not shown" in obs.get("text", "") else "ran")
                c.close(sid)
        t.add(hostile_turns=1)
    except TruthEyeError as e:
        outcome = e.code
        time.sleep(0.25)
    with t.lock:
        key = f"{kind}: {outcome}"
        t.hostile_outcomes[key] = t.hostile_outcomes.get(key, 0) + 1


def client_loop(args, t, deadline, seed, big_png):
    rnd = random.Random(seed)
    c = TruthEyeClient(socket_path=args.socket, timeout=120)
    while time.time() < deadline:
        hostile = rnd.random() < args.hostile
        try:
            if hostile:
                hostile_episode(c, t, rnd.choice(list(HOSTILE) + ["bigopen", "leak"]), big_png)
            else:
                normal_episode(c, t)
        except Exception as e:  # noqa: BLE001 - every failure of a normal episode is a loss
            if not hostile:
                with t.lock:
                    t.lost.append(repr(e)[:200])
            try:
                c.close_connection()
            except Exception:  # noqa: BLE001
                pass
            c = TruthEyeClient(socket_path=args.socket, timeout=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "trutheye"))
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--hostile", type=float, default=0.25, help="share of hostile episodes")
    ap.add_argument("--budget", default="6G", help="--memory-budget of the server")
    ap.add_argument("--backend", default="interp")
    ap.add_argument("--server-arg", action="append", default=[], help="extra argument for `trutheye serve` (repeatable), e.g. --server-arg=--plugins=DIR")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="trutheye-soak-")
    args.socket = os.path.join(tmp, "te.sock")
    cmd = [args.bin, "serve", "--socket", args.socket, "--json", "--allow-shutdown", "--backend", args.backend,
           "--memory-budget", args.budget, "--max-sessions", "64", "--session-ttl", "120", "--action-timeout", "5", *args.server_arg]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    start = json.loads(server.stdout.readline())
    budget = start["memory_budget_bytes"]
    big_png = "data:image/png;base64," + __import__("base64").b64encode(flat_png(6000, 5000)).decode()
    t = Tally()
    peak = [0]
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            peak[0] = max(peak[0], tree_private_rss(server.pid))
            time.sleep(0.25)

    threading.Thread(target=sampler, daemon=True).start()
    deadline = time.time() + args.minutes * 60
    threads = [threading.Thread(target=client_loop, args=(args, t, deadline, i, big_png)) for i in range(args.clients)]
    t0 = time.time()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.time() - t0
    stop.set()
    stats = TruthEyeClient(socket_path=args.socket).stats()
    TruthEyeClient(socket_path=args.socket).shutdown()
    server.wait(timeout=60)
    total = t.turns + t.hostile_turns
    row = {
        "clients": args.clients, "minutes": round(wall / 60, 2), "turns": total, "hostile_share": round(t.hostile_turns / max(total, 1), 3),
        "peak_bytes": peak[0], "budget_bytes": budget, "peak_over_budget": round(peak[0] / budget, 3),
        "normal_p50_ms": round(pct(t.normal_ms, 50), 1), "normal_p99_ms": round(pct(t.normal_ms, 99), 1),
        "normal_episodes": t.episodes["normal"], "refused": t.refused, "sessions_lost": len(t.lost),
        "hostile_outcomes": t.hostile_outcomes, "server_stats": stats, "lost_examples": t.lost[:5],
    }
    if args.json:
        print(json.dumps(row))
        return
    gib = 1 << 30
    print("| clients | minutes | turns | hostile share | peak memory / budget | normal p50 | normal p99 | refused | sessions lost |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.clients} | {row['minutes']} | {total} | {row['hostile_share']:.0%} | {peak[0] / gib:.2f} / {budget / gib:.2f} GiB | "
          f"{row['normal_p50_ms']} ms | {row['normal_p99_ms']} ms | {t.refused} | {len(t.lost)} |")
    print("hostile outcomes:", json.dumps(t.hostile_outcomes, sort_keys=True))
    print("server stats:", json.dumps(stats))
    if t.lost:
        print("lost:", *t.lost[:5], sep="\n  ")


if __name__ == "__main__":
    main()
