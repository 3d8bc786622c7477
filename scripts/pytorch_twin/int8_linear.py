"""Whether int8 arithmetic would pay for SD's linear layers on this libtorch (issue 19's int8 question).

libtorch 1.13 as Debian builds it has no FBGEMM; its quantized engine 'onednn' runs dynamically quantized linear
layers (int8 weights per output channel, activations quantized per tensor at each call) in oneDNN's int8 GEMM, VNNI
where the CPU has it. This times such a layer against float32 and bfloat16 ones on the UNet's linear shapes (rows =
batch 2 x tokens) and reports each one's largest error against float32 over the largest output, the best of REPEAT
calls after a warm-up, under torch.inference_mode, with the threads given.
Usage: /usr/bin/python3 int8_linear.py [--threads 2] [--repeat 5]   (Debian's python3-torch: scripts/lib.sh python_with_torch)
"""
import argparse
import platform
import time

import torch

# rows, in features, out features: SD 1.5 at 512 px (8,192 tokens for batch 2) and at 256 px, and the text context
SHAPES = [(8192, 320, 320), (8192, 320, 2560), (8192, 1280, 320), (2048, 640, 5120), (2048, 2560, 640), (512, 1280, 10240),
          (154, 768, 320)]


def best_of(f, repeat):
    f()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    engines = torch.backends.quantized.supported_engines
    engine = "fbgemm" if "fbgemm" in engines else "onednn" if "onednn" in engines else None
    print(f"torch {torch.__version__}, {cpu_model()}, {args.threads} threads, quantized engines {engines}, using {engine}")
    if engine is None:
        print("no quantized engine with int8 GEMM in this libtorch")
        return
    torch.backends.quantized.engine = engine
    torch.manual_seed(0)
    print("rows x in x out: float32 ms, bfloat16 ms (x float32), dynamic int8 ms (x float32); error / largest output: bfloat16, int8")
    for rows, k, n in SHAPES:
        with torch.inference_mode():
            x = torch.randn(rows, k)
            dense = torch.nn.Linear(k, n)
            torch.nn.init.normal_(dense.weight, std=k ** -0.5)
            half = torch.nn.Linear(k, n).bfloat16()
            half.weight.copy_(dense.weight.bfloat16())
            half.bias.copy_(dense.bias.bfloat16())
            xb = x.bfloat16()
            w = dense.weight
            scales = (w.abs().amax(1) / 127).double()
            qw = torch.quantize_per_channel(w, scales, torch.zeros(n, dtype=torch.long), 0, torch.qint8)
            quantized = torch.ao.nn.quantized.dynamic.Linear(k, n, dtype=torch.qint8)
            quantized.set_weight_bias(qw, dense.bias)
            t32 = best_of(lambda: dense(x), args.repeat)
            tbf = best_of(lambda: half(xb), args.repeat)
            tq = best_of(lambda: quantized(x), args.repeat)
            ref = dense(x)
            largest = ref.abs().max().item()
            ebf = (half(xb).float() - ref).abs().max().item() / largest
            eq = (quantized(x) - ref).abs().max().item() / largest
        print(f"{rows} x {k} x {n}: {t32 * 1e3:.1f}, {tbf * 1e3:.1f} ({t32 / tbf:.2f}x), {tq * 1e3:.1f} ({t32 / tq:.2f}x); {ebf:.4f}, {eq:.4f}")


if __name__ == "__main__":
    main()
