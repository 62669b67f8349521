"""cuBLAS GEMM reference for bench/gemm-probe.ts on the same GPU (the issue's yardstick: our f32 GEMM
against torch fp32 with TF32 off, our f16 subgroup-matrix GEMM against torch fp16).

    python3 bench/torch-gemm.py [N ...]        (default 1024 2048 4096 8192)

Timing: CUDA events around 20 back-to-back products after 3 warm-ups, best of 3 rounds; inputs uniform
in [-0.5, 0.5). Prints one line per dtype and size, TFLOP/s = 2 N^3 / time.
"""
import sys

import torch

sizes = [int(a) for a in sys.argv[1:]] or [1024, 2048, 4096, 8192]
torch.backends.cuda.matmul.allow_tf32 = False
print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
for label, dtype, tf32 in [("fp32", torch.float32, False), ("tf32", torch.float32, True), ("fp16", torch.float16, False)]:
    torch.backends.cuda.matmul.allow_tf32 = tf32
    for n in sizes:
        a = torch.rand(n, n, device="cuda", dtype=dtype) - 0.5
        b = torch.rand(n, n, device="cuda", dtype=dtype) - 0.5
        for _ in range(3):
            a @ b
        best = float("inf")
        for _ in range(3):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(20):
                a @ b
            end.record()
            torch.cuda.synchronize()
            best = min(best, start.elapsed_time(end) / 20)
        print(f"torch {label} {n}^3: {best:.3f} ms = {2 * n**3 / best / 1e9:.1f} TFLOP/s")
