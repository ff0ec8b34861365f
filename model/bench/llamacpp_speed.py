#!/usr/bin/env python3
"""llama.cpp column of the Qwen2.5-VL speed comparison (run by
qwen25vl_speed.py --llamacpp-python PY --llama-src DIR; usable alone).

1. Converts the bench checkpoint made by qwen25vl_speed.py to GGUF f32 (text
   model + mmproj vision tower) with llama.cpp's own convert_hf_to_gguf.py from
   --llama-src (the vendor/llama.cpp of the llama-cpp-python sdist, or a
   llama.cpp checkout). The checkpoint carries the repo's tiny test tokenizer,
   whose pre-tokenizer hash the converter does not know: it is named "qwen2"
   (the split regex it uses). Conversion runs with --convert-python (needs
   torch + transformers + sentencepiece, e.g. the fixtures venv).
2. Times, with llama-cpp-python (this interpreter), the same work the other
   two columns do: prefill of the same 256 prompt ids (DIR/bench_prompt_ids.json;
   logits of the last position only, llama.cpp's default), and 64 steps of
   eval(one token) + argmax with the KV cache after an untimed prefill. Image
   prefill is not measured here (llama-cpp-python reaches the vision tower only
   through its chat handler, which samples and detokenizes inside the call).
   Median of --runs after a warm-up; n_threads = --threads.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONVERT = """
import sys
src = sys.argv[1]
sys.path.insert(0, src + "/gguf-py"); sys.path.insert(0, src)
import convert_hf_to_gguf as c
import conversion.base as base
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "qwen2"
sys.argv = ["convert_hf_to_gguf.py"] + sys.argv[2:]
c.main()
"""


def convert(py: str, src: Path, model_dir: Path) -> tuple[Path, Path]:
    text, mmproj = model_dir / "llamacpp-f32.gguf", model_dir / "llamacpp-mmproj-f32.gguf"
    for out, extra in [(text, []), (mmproj, ["--mmproj"])]:
        if not out.exists():
            cmd = [py, "-c", CONVERT, str(src), str(model_dir), *extra, "--outtype", "f32", "--outfile", str(out)]
            subprocess.run(cmd, check=True, capture_output=True)
    return text, mmproj


def median_time(fn, runs: int) -> float:
    fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, default=Path("/tmp/trutheye-bench-0.5b"))
    ap.add_argument("--llama-src", type=Path, required=True)
    ap.add_argument("--convert-python", default=sys.executable)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--decode", type=int, default=64)
    args = ap.parse_args()

    import numpy as np
    import llama_cpp

    text_gguf, _ = convert(args.convert_python, args.llama_src, args.model_dir)
    ids = json.loads((args.model_dir / "bench_prompt_ids.json").read_text())
    llm = llama_cpp.Llama(
        model_path=str(text_gguf), n_ctx=1024, n_batch=512, n_ubatch=512, n_threads=args.threads,
        n_threads_batch=args.threads, logits_all=False, verbose=False,
    )

    def prefill():
        llm.reset()
        llm.eval(ids)

    t_prefill = median_time(prefill, args.runs)

    vocab = llm.n_vocab()

    def last_logits():
        # llama-cpp-python 0.3.36 leaves Llama.scores at zero when logits_all is
        # off; the context's own buffer holds the last position's logits.
        p = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(p, shape=(vocab,))

    def decode_loop() -> float:
        llm.reset()
        llm.eval(ids)
        nxt = int(np.argmax(last_logits()))
        t = time.perf_counter()
        for _ in range(args.decode):
            llm.eval([nxt])
            nxt = int(np.argmax(last_logits()))
        return time.perf_counter() - t

    decode_loop()
    t_decode = statistics.median([decode_loop() for _ in range(args.runs)])
    prefill()
    last = last_logits()
    print(json.dumps({
        "last_logits_argmax": int(np.argmax(last)),
        "last_logits_max_abs": float(np.abs(last).max()),
        "prefill_tok_s": len(ids) / t_prefill,
        "decode_tok_s": args.decode / t_decode,
        "prompt_tokens": len(ids),
        "threads": args.threads,
        "llama_cpp_python": llama_cpp.__version__,
        "gguf": "f32",
    }))


if __name__ == "__main__":
    main()
