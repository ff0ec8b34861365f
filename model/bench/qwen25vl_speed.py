#!/usr/bin/env python3
"""Speed bench (not a test): HF transformers vs trutheye's candle Qwen2.5-VL on
a random-weight model of about 0.5B parameters, on the CPU.

1. Build (skipped when --out already holds a model): Qwen2.5-VL whose text
   part has Qwen2.5-0.5B's dimensions (hidden 896, 24 layers, 14 heads, 2 KV
   heads, MLP 4864, vocab 151936, tied embeddings, head_dim 64 so
   mrope_section [8, 12, 12]) and a small vision tower (depth 4, hidden 256,
   4 heads, window 112, full attention in blocks 1 and 3). ~0.5B params,
   float32 safetensors (~2 GB), random init (std 0.02). The directory is a
   complete model dir: config.json, weights, generation_config.json, the tiny
   fixture tokenizer (model/fixtures/qwen25vl/tokenizer: 734 tokens, the Qwen
   special tokens at ids 720..733, and the config's image/video/vision ids
   point there), chat template, preprocessor_config.json (Hub defaults:
   min_pixels 3136, max_pixels 12845056).
2. transformers timings, torch.set_num_threads(--threads), --attn attention
   (default "sdpa", transformers' default; "eager" is what the fixtures use).
   Both sides do the same work (the comparison is only fair that way):
   - prefill_tok_s: forward of a 256-token text prompt (random token ids in
     [0, 720), i.e. ordinary BPE tokens; fixed seed; written to
     DIR/bench_prompt_ids.json and given to trutheye with --prompt-ids), with
     use_cache=True and logits_to_keep=1: logits of the last position only,
     as generate() asks for and as trutheye computes (all 256 x 151936
     logits would add a 256-row GEMM against the whole vocabulary);
   - image_prefill_tok_s: forward of a chat prompt with one 448x448 image
     (grid 32x32 patches -> 256 image tokens; PIL image processor, outside
     the timing on both sides) + a short text, vision tower included,
     logits_to_keep=1; tokens = full prompt length;
   - decode_tok_s: 64 steps of one forward with the KV cache + argmax, after
     an untimed 256-token prefill; no sampling, detokenizing or stop checks
     inside the timed loop on either side (trutheye: greedy_decode_timed).
   Each is the median of --runs runs after one warm-up run.
3. With --rust-bin PATH it runs
       PATH model bench --model DIR --prompt-ids DIR/bench_prompt_ids.json --decode 64 --image IMG --runs 3 --json
   (with RAYON_NUM_THREADS=--threads), parses the JSON object it prints (any
   keys; *_tok_s keys are compared) and prints transformers vs trutheye.

4. With --llamacpp-python PY --llama-src DIR it also runs llamacpp_speed.py
   under PY (a venv with llama-cpp-python) on the same checkpoint converted to
   GGUF f32, and adds a llama.cpp column (text prefill and decode).

Usage:
    python qwen25vl_speed.py [--out DIR] [--threads 2] [--runs 3] [--rust-bin target/release/trutheye]
        [--llamacpp-python target/llama-venv/bin/python --llama-src .../vendor/llama.cpp]
Needs the packages of model/fixtures/qwen25vl/requirements.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from PIL import Image

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures" / "qwen25vl"
sys.path.insert(0, str(FIXTURES))

import make_fixtures as mf  # noqa: E402  (chat template, special tokens, preprocessor writer)

from transformers import (  # noqa: E402
    GenerationConfig,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2Tokenizer,
)
from transformers.cache_utils import DynamicCache  # noqa: E402
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil  # noqa: E402

HUB_MIN_PIXELS = 56 * 56
HUB_MAX_PIXELS = 28 * 28 * 16384  # 12845056, Qwen2.5-VL's preprocessor_config.json
VOCAB = 151936
BPE_TOKENS = 720  # ids below this are ordinary BPE tokens of the fixture tokenizer


def load_tokenizer() -> Qwen2Tokenizer:
    tok = Qwen2Tokenizer.from_pretrained(str(FIXTURES / "tokenizer"))
    tok.chat_template = mf.QWEN25VL_CHAT_TEMPLATE
    return tok


def make_processor(tok):
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    ip = Qwen2VLImageProcessorPil(min_pixels=HUB_MIN_PIXELS, max_pixels=HUB_MAX_PIXELS)
    vp = Qwen2VLVideoProcessor(min_pixels=HUB_MIN_PIXELS, max_pixels=HUB_MAX_PIXELS)
    return Qwen2_5_VLProcessor(image_processor=ip, tokenizer=tok, video_processor=vp, chat_template=mf.QWEN25VL_CHAT_TEMPLATE)


def build(out: Path) -> None:
    tok = load_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in mf.SPECIAL_TOKENS}
    text = dict(
        vocab_size=VOCAB,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        hidden_act="silu",
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
        use_sliding_window=False,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [8, 12, 12]},
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=True,
    )
    vision = dict(
        depth=4,
        hidden_size=256,
        num_heads=4,
        intermediate_size=512,
        out_hidden_size=896,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        window_size=112,
        fullatt_block_indexes=[1, 3],
        hidden_act="silu",
        in_channels=3,
        tokens_per_second=2,
    )
    cfg = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    t0 = time.time()
    model = Qwen2_5_VLForConditionalGeneration._from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        do_sample=False,
    )
    n = sum(p.numel() for p in model.parameters())
    print(f"built {n / 1e6:.1f}M params in {time.time() - t0:.1f}s; saving to {out}", flush=True)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp))
    proc = make_processor(tok)
    proc.save_pretrained(str(tmp))
    mf.write_preprocessor_config(proc.image_processor, tmp)
    tmp.rename(out)
    del model


def bench_image(path: Path) -> None:
    if path.exists():
        return
    img = mf.make_image(448, 448, seed=448)
    img.save(path, format="PNG")


def median_time(fn, runs: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def prompt_ids(model_dir: Path, n: int) -> torch.Tensor:
    """The text prompt both sides run: n random ordinary-token ids (fixed seed),
    saved as model_dir/bench_prompt_ids.json for trutheye's --prompt-ids."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, BPE_TOKENS, (1, n), generator=g)
    (model_dir / "bench_prompt_ids.json").write_text(json.dumps(ids[0].tolist()))
    return ids


@torch.no_grad()
def bench_transformers(
    model_dir: Path, image: Path, threads: int, runs: int, prompt_tokens: int, decode: int, attn: str
) -> dict:
    torch.set_num_threads(threads)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        str(model_dir), attn_implementation=attn, dtype=torch.float32
    ).eval()
    tok = load_tokenizer()
    proc = make_processor(tok)
    ids = prompt_ids(model_dir, prompt_tokens)

    def prefill():
        model.model.rope_deltas = None
        model(input_ids=ids, use_cache=True, logits_to_keep=1)

    t_prefill = median_time(prefill, runs)

    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "image": image.name}, {"type": "text", "text": "Is this image tampered?"}],
        }
    ]
    text = proc.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = dict(proc(text=[text], images=[Image.open(image).convert("RGB")], return_tensors="pt"))
    inputs.pop("attention_mask", None)
    n_img_prompt = inputs["input_ids"].shape[1]

    def image_prefill():
        model.model.rope_deltas = None
        model(**inputs, use_cache=True, logits_to_keep=1)

    t_image = median_time(image_prefill, runs)

    def decode_loop():
        model.model.rope_deltas = None
        cache = DynamicCache(config=model.config)
        out = model(input_ids=ids, use_cache=True, past_key_values=cache, logits_to_keep=1)
        nxt = out.logits[:, -1:].argmax(-1)
        t0 = time.perf_counter()
        for _ in range(decode):
            out = model(input_ids=nxt, use_cache=True, past_key_values=out.past_key_values)
            nxt = out.logits[:, -1:].argmax(-1)
        return time.perf_counter() - t0

    decode_loop()  # warm-up
    t_decode = statistics.median([decode_loop() for _ in range(runs)])

    return {
        "prefill_tok_s": prompt_tokens / t_prefill,
        "image_prefill_tok_s": n_img_prompt / t_image,
        "decode_tok_s": decode / t_decode,
        "image_prompt_tokens": n_img_prompt,
        "image_grid_thw": inputs["image_grid_thw"].tolist(),
        "prefill_s": t_prefill,
        "image_prefill_s": t_image,
        "decode_s": t_decode,
        "attn_implementation": attn,
        "threads": threads,
    }


def run_rust(bin_path: str, model_dir: Path, image: Path, threads: int, runs: int, prompt_tokens: int, decode: int):
    cmd = [
        bin_path, "model", "bench", "--model", str(model_dir), "--prompt-ids", str(model_dir / "bench_prompt_ids.json"),
        "--decode", str(decode), "--image", str(image), "--runs", str(runs), "--json",
    ]
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    print("running:", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        print(p.stdout[-2000:], p.stderr[-4000:], sep="\n")
        raise SystemExit(f"rust bench failed (rc={p.returncode})")
    # the last line that parses as a JSON object
    for line in reversed(p.stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"no JSON object in the rust output:\n{p.stdout[-2000:]}")


def fmt(v) -> str:
    return f"{v:10.2f}" if isinstance(v, (int, float)) else f"{str(v):>10}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/trutheye-bench-0.5b"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--prompt-tokens", type=int, default=256)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--image", type=Path, default=None, help="default: a generated 448x448 PNG in --out")
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    ap.add_argument("--rust-bin", default=None)
    ap.add_argument("--skip-transformers", action="store_true")
    ap.add_argument("--llamacpp-python", default=None, help="python of a venv with llama-cpp-python")
    ap.add_argument("--llama-src", type=Path, default=None, help="llama.cpp source (convert_hf_to_gguf.py, gguf-py)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    if (args.out / "config.json").exists():
        print(f"model dir {args.out} exists; not rebuilding")
    else:
        build(args.out)
    image = args.image or (args.out / "bench_448.png")
    bench_image(image)

    results = {}
    if not args.skip_transformers:
        hf = bench_transformers(
            args.out, image, args.threads, args.runs, args.prompt_tokens, args.decode, args.attn
        )
        results["transformers"] = hf
        print("transformers:", json.dumps(hf), flush=True)
    if args.rust_bin:
        prompt_ids(args.out, args.prompt_tokens)
        rs = run_rust(args.rust_bin, args.out, image, args.threads, args.runs, args.prompt_tokens, args.decode)
        results["trutheye"] = rs
        print("trutheye:", json.dumps(rs), flush=True)

    if args.llamacpp_python and args.llama_src:
        prompt_ids(args.out, args.prompt_tokens)
        cmd = [args.llamacpp_python, str(HERE / "llamacpp_speed.py"), "--model-dir", str(args.out), "--llama-src", str(args.llama_src),
               "--convert-python", sys.executable, "--threads", str(args.threads), "--runs", str(args.runs), "--decode", str(args.decode)]
        print("running:", " ".join(cmd), flush=True)
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"llama.cpp bench failed (rc={p.returncode}):\n{p.stderr[-3000:]}")
        results["llama.cpp"] = json.loads(p.stdout.strip().splitlines()[-1])
        print("llama.cpp:", json.dumps(results["llama.cpp"]), flush=True)

    hf = results.get("transformers", {})
    rs = results.get("trutheye", {})
    lc = results.get("llama.cpp", {})
    keys = [k for k in ["prefill_tok_s", "image_prefill_tok_s", "decode_tok_s"]]
    keys += sorted(k for k in set(hf) | set(rs) if k.endswith("_tok_s") and k not in keys)
    print()
    print(f"threads={args.threads} runs={args.runs} prompt_tokens={args.prompt_tokens} decode={args.decode} image={image}")
    def ratio(b, a):
        return f"{b / a:9.2f}x" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a else f"{'-':>10}"

    print(f"{'metric':<24}{'transformers':>14}{'trutheye':>12}{'llama.cpp':>12}{'te/tf':>10}{'te/llama':>10}")
    for k in keys:
        a, b, c = hf.get(k), rs.get(k), lc.get(k)
        cells = "".join(f"{fmt(v if v is not None else '-'):>12}" for v in (b, c))
        print(f"{k:<24}{fmt(a if a is not None else '-'):>14}{cells}{ratio(b, a)}{ratio(b, c)}")
    print("(tokens/s; te/tf = trutheye / transformers, te/llama = trutheye / llama.cpp; >1 means trutheye is faster)")


if __name__ == "__main__":
    main()
