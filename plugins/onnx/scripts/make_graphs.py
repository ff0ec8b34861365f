#!/usr/bin/env python3
"""Writes the ONNX graphs of the classic operators `srm` and `bayar` with their
manifests into OUT_DIR: `python3 make_graphs.py OUT_DIR` (needs `pip install onnx`).

The kernels are the native operators' (plugins/std/src/srm.rs, bayar.rs); the graph
takes RGB in grey levels [1,3,H,W] (any H, W), computes BT.601 luma with a 1x1
Conv, pads by 2 with mode=reflect (reflect-101, like the native code) and applies
the 5x5 kernels as one Conv (cross-correlation, like OpenCV filter2D).
"""
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SRM_KV = [[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]]
SRM_SQ3 = [[0, 0, 0, 0, 0], [0, -1, 2, -1, 0], [0, 2, -4, 2, 0], [0, -1, 2, -1, 0], [0, 0, 0, 0, 0]]
SRM_H2 = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]


def srm_kernels():
    ks = [np.array(k, np.float32) / d for k, d in ((SRM_KV, 12.0), (SRM_SQ3, 4.0), (SRM_H2, 2.0))]
    return np.stack(ks)[:, None]  # [3, 1, 5, 5]


def bayar_kernel():
    k = np.full((5, 5), 1.0 / 24.0, np.float32)
    k[2, 2] = -1.0
    return k[None, None]  # [1, 1, 5, 5]


def residual_graph(name, kernels):
    luma_w = np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 3, 1, 1)
    inits = [
        numpy_helper.from_array(luma_w, "luma_w"),
        numpy_helper.from_array(np.array([0, 0, 2, 2, 0, 0, 2, 2], np.int64), "pads"),
        numpy_helper.from_array(kernels.astype(np.float32), "kernels"),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "luma_w"], ["luma"], name="luma"),
        helper.make_node("Pad", ["luma", "pads"], ["padded"], mode="reflect", name="pad"),
        helper.make_node("Conv", ["padded", "kernels"], ["residual"], name="bank"),
    ]
    k = kernels.shape[0]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("residual", TensorProto.FLOAT, [1, k, "height", "width"])],
        inits,
    )
    # Opset 17 / IR 8: old enough for any ONNX Runtime >= 1.14, new enough for Pad with input pads.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="trutheye")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_graphs.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
    for name, kernels in (("onnx_srm", srm_kernels()), ("onnx_bayar", bayar_kernel())):
        onnx.save(residual_graph(name, kernels), os.path.join(out, name + ".onnx"))
        shutil.copyfile(os.path.join(here, name + ".toml"), os.path.join(out, name + ".toml"))
        print(f"wrote {out}/{name}.onnx and {name}.toml")


if __name__ == "__main__":
    main()
