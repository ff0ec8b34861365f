#!/usr/bin/env python3
"""Throughput of ``trutheye serve``: N concurrent clients, each opening a session
on a 512x512 image and running M sandbox actions (a crop + contrast-enhance PVR
snippet, whose result image comes back as base64 PNG), in sessions of
--per-session actions (open + actions + close, like a rollout; latencies cover
the actions, including a new session's sandbox start on its first action). Prints actions/second and
p50/p95 latency per concurrency level. Standard library only.

    python3 trainer/python/bench_serve.py --bin target/debug/trutheye --actions 20
    python3 trainer/python/bench_serve.py --socket /tmp/trutheye.sock   # a running server
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
from trutheye_swift import TruthEyeClient  # noqa: E402

SNIPPET = (
    "<think>zoom in on the centre and boost contrast</think><code>\n"
    "from PIL import ImageEnhance\n"
    "c = image.crop((128, 128, 384, 384))\n"
    "result = ImageEnhance.Contrast(c).enhance(1.8)\n"
    "print(result.size)\n"
    "</code>"
)


def png_512(seed=7):
    """A 512x512 RGB PNG with smooth gradients and noise (no Pillow needed)."""
    rnd = random.Random(seed)
    rows = []
    for y in range(512):
        row = bytearray([0])
        for x in range(512):
            n = rnd.randrange(24)
            row += bytes(((x // 2 + n) & 255, (y // 2 + n) & 255, ((x + y) // 4 + n) & 255))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 6)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 512, 512, 8, 2, 0, 0, 0)) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, round(p / 100 * (len(sorted_vals) - 1))))
    return sorted_vals[k]


def run_level(sock, image_path, clients, actions, per_session, strategy):
    latencies, errors = [], []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker():
        try:
            with TruthEyeClient(sock) as c:
                barrier.wait()
                mine, done = [], 0
                while done < actions:
                    # A session is one episode (the agent config allows 7 tool calls):
                    # open, run up to `per_session` actions, close, as a GRPO rollout does.
                    sid = c.open(image_path, strategy=strategy)["session"]
                    for _ in range(min(per_session, actions - done)):
                        t0 = time.perf_counter()
                        r = c.execute(sid, SNIPPET)
                        mine.append(time.perf_counter() - t0)
                        if r["observation"]["error"]:
                            raise RuntimeError(r["observation"]["error"])
                        done += 1
                    c.close(sid)
                with lock:
                    latencies.extend(mine)
        except Exception as e:  # reported below
            with lock:
                errors.append(repr(e))
            try:
                barrier.abort()
            except threading.BrokenBarrierError:
                pass

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError("; ".join(errors))
    latencies.sort()
    return {"clients": clients, "actions": len(latencies), "wall_s": wall, "actions_per_s": len(latencies) / wall,
            "p50_ms": 1000 * pct(latencies, 50), "p95_ms": 1000 * pct(latencies, 95)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/debug/trutheye", help="trutheye binary to start (ignored with --socket)")
    ap.add_argument("--socket", help="use an already running server")
    ap.add_argument("--clients", default="1,2,4,8", help="concurrency levels")
    ap.add_argument("--actions", type=int, default=20, help="actions per client")
    ap.add_argument("--per-session", type=int, default=5, help="actions per session (episode); each new session starts a fresh sandbox")
    ap.add_argument("--pvr-mode", default="worker", choices=["worker", "in-process"])
    ap.add_argument("--json", action="store_true", help="one JSON object per level")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    image_path = os.path.join(tmp.name, "bench512.png")
    with open(image_path, "wb") as f:
        f.write(png_512())
    proc = None
    sock = args.socket
    if sock is None:
        sock = os.path.join(tmp.name, "bench.sock")
        proc = subprocess.Popen([args.bin, "serve", "--socket", sock, "--allow-shutdown", "--pvr-mode", args.pvr_mode],
                                stdout=subprocess.PIPE, text=True)
        print(proc.stdout.readline().strip(), file=sys.stderr)
    try:
        if not args.json:
            print(f"{'clients':>7} {'actions':>7} {'wall s':>7} {'actions/s':>9} {'p50 ms':>7} {'p95 ms':>7}")
        for n in [int(x) for x in args.clients.split(",")]:
            r = run_level(sock, image_path, n, args.actions, args.per_session, "pvr")
            if args.json:
                print(json.dumps(r))
            else:
                print(f"{r['clients']:>7} {r['actions']:>7} {r['wall_s']:>7.2f} {r['actions_per_s']:>9.1f} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f}")
    finally:
        if proc is not None:
            with TruthEyeClient(sock) as c:
                c.shutdown()
            proc.wait(timeout=20)
        tmp.cleanup()


if __name__ == "__main__":
    main()
