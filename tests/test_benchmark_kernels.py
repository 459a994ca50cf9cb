"""benchmarks/kernels.py reads oneDNN's verbose log: FLOPs from problem descriptors, per-step sums."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("bench_kernels", Path(__file__).parents[1] / "benchmarks" / "kernels.py")
kernels = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kernels)

CONV = ("onednn_verbose,v1,primitive,exec,cpu,convolution,jit:avx512_core,backward_weights,"
        "src:f32::blocked:acdb::f0 wei:f32:a:blocked:Adcb16a::f0,attr-scratchpad:user,alg:convolution_direct,"
        "mb256_ic64oc64_ih13oh11kh3sh1dh0ph0_iw13ow11kw3sw1dw0pw0,{ms}")
GEMM = ("onednn_verbose,v1,primitive,exec,cpu,gemm_api,,undef,src_f32::blocked:ba:f0 wei_f32::blocked:ab:f0 "
        "dst_f32::blocked:ab:f0,,,128x256:256x10,{ms}")
POOL = ("onednn_verbose,v1,primitive,exec,cpu,pooling,jit:avx512_core,backward_data,src:f32::blocked:acdb::f0,,"
        "alg:pooling_max,mb256ic64_ih26oh13kh2sh2dh0ph0_iw26ow13kw2sw2dw0pw0,{ms}")


def test_flops_follow_from_the_problem_descriptors():
    assert kernels.flops("convolution", "mb256_ic64oc64_ih13oh11kh3sh1dh0ph0_iw13ow11kw3sw1dw0pw0") == \
        2 * 256 * 64 * 64 * 3 * 3 * 11 * 11
    # depthwise: 32 groups of one input channel each
    assert kernels.flops("convolution", "g32mb2_ic32oc32_ih8oh8kh3sh1dh0ph1_iw8ow8kw3sw1dw0pw1") == 2 * 2 * 32 * 9 * 64
    assert kernels.flops("inner_product", "mb256ic1600oc128") == 2 * 256 * 1600 * 128
    assert kernels.flops("gemm_api", "128x256:256x10") == 2 * 128 * 256 * 10
    assert kernels.flops("pooling", "mb256ic64_ih26oh13kh2sh2dh0ph0_iw26ow13kw2sw2dw0pw0") is None


def test_summarise_sums_per_step_sorts_and_skips_other_lines():
    lines = [CONV.format(ms=10.0), CONV.format(ms=20.0), GEMM.format(ms=0.5), POOL.format(ms=3.0),
             "onednn_verbose,v1,primitive,create:cache_miss,cpu,convolution,...,1.0", "Epoch 1/1", ""]
    rows = kernels.summarise(lines, steps=2)
    assert [r["primitive"] for r in rows] == ["convolution", "pooling", "gemm_api"]
    conv = rows[0]
    assert conv["ms/step"] == pytest.approx(15.0) and conv["calls/step"] == 1
    assert conv["pass"] == "backward_weights" and conv["implementation"] == "jit:avx512_core"
    assert conv["GFLOP/s"] == pytest.approx(2 * 256 * 64 * 64 * 9 * 121 * 2 / 0.030 / 1e9)
    assert rows[1]["GFLOP/s"] is None
