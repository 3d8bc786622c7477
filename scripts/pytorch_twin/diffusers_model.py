"""bench-model's UNet step and VAE decode, measured the same way in HuggingFace diffusers (issue 19's comparison).

Builds the models of a diffusers directory (the one bench-model writes under runs/.cache/bench-models) from their
config.json with diffusers' own random initialisation (timing does not depend on the values), then per part: one
untimed warm-up call, REPEAT timed calls under torch.inference_mode, the peak RSS of the calls (VmHWM reset through
/proc/self/clear_refs after the build, as bench-model does) and getrusage's user and system time and page faults per
timed call. Writes a JSON report with bench-model's field names, so `./panama-sd bench-model --compare FILE` prints
panama-sd's measures against these.

diffusers is not a Debian package: PYTHONPATH must name a directory where `import diffusers` works (its source tree
and huggingface_hub's). Run with Debian's python3-torch, the libtorch panama-sd links.
Usage: python3 diffusers_model.py --model DIR [--parts unet,vae] [--latent 32] [--batch 2] [--dtype float32] ...
"""
import argparse
import json
import os
import platform
import resource
import statistics
import time

import torch


def status_bytes(field):
    """A kB field of /proc/self/status (VmRSS: resident now, VmHWM: the peak), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak():
    """Resets VmHWM to the current RSS (Linux: writing 5 to clear_refs); False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_model_and_flags():
    model, flags = platform.processor(), set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
    wanted = ["avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile"]
    return model, [f for f in wanted if f in flags]


def measure(part, call, args):
    """One part: warm-up calls, then timed calls; times, peak RSS and rusage per timed call."""
    peak_reset = reset_peak()
    rss_after_build = status_bytes("VmRSS")
    with torch.inference_mode():
        for _ in range(args.warmup):
            call()
        seconds = []
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(args.repeat):
            start = time.perf_counter()
            call()
            seconds.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_SELF)
    n = len(seconds)
    return {
        "part": part,
        "timed_calls": n,
        "warmup_calls": args.warmup,
        "min_s": min(seconds),
        "median_s": statistics.median(seconds),
        "seconds": seconds,
        "rss_after_load_bytes": rss_after_build,
        "rss_peak_bytes": status_bytes("VmHWM"),
        "rss_peak_covers": "the calls, weights resident (VmHWM reset after the build through /proc/self/clear_refs)" if peak_reset
        else "the whole process (VmHWM could not be reset)",
        "per_timed_call": {
            "user_s": (after.ru_utime - before.ru_utime) / n,
            "system_s": (after.ru_stime - before.ru_stime) / n,
            "minor_faults": (after.ru_minflt - before.ru_minflt) / n,
            "major_faults": (after.ru_majflt - before.ru_majflt) / n,
        },
    }


def unet_part(args, dtype):
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(os.path.join(args.model, "unet"))).to(dtype).eval()
    config = unet.config  # the file's fields with diffusers' defaults for those it leaves out
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(args.batch, config.in_channels, args.latent, args.latent, generator=generator).to(dtype)
    cross = config.cross_attention_dim
    context = torch.randn(args.batch, 77, cross, generator=generator).to(dtype)
    timestep = torch.tensor(999)
    extra = {}
    if config.addition_embed_type == "text_time":  # SDXL: pooled text embeddings and the six size conditions
        pooled = config.projection_class_embeddings_input_dim - 6 * config.addition_time_embed_dim
        extra = {"added_cond_kwargs": {"text_embeds": torch.randn(args.batch, pooled, generator=generator).to(dtype),
                                       "time_ids": torch.tensor([[8.0 * args.latent] * 2 + [0.0, 0.0] + [8.0 * args.latent] * 2] * args.batch).to(dtype)}}
    return lambda: unet(sample, timestep, encoder_hidden_states=context, return_dict=False, **extra)


def vae_part(args, dtype):
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_config(AutoencoderKL.load_config(os.path.join(args.model, "vae"))).to(dtype).eval()
    config = vae.config
    latents = torch.randn(args.vae_batch, config.latent_channels, args.latent, args.latent, generator=torch.Generator().manual_seed(0)).to(dtype)
    return lambda: vae.decode(latents, return_dict=False)


PARTS = {"unet": unet_part, "vae": vae_part}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="a diffusers directory (unet/, vae/ with config.json)")
    p.add_argument("--parts", default="unet,vae")
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--vae-batch", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    # the processors this process may run on (affinity), as the JVM's availableProcessors counts them
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--json", help="write the report here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
    import diffusers

    cpu, flags = cpu_model_and_flags()
    # libtorch's and oneDNN's caps on their kernels' instructions, named as bench-model names them
    caps = ", ".join(f"{name}={os.environ[name]}" for name in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA") if name in os.environ)
    report = {
        "tool": "diffusers " + diffusers.__version__,
        "model": os.path.basename(os.path.normpath(args.model)),
        "directory": args.model,
        "machine": {"cpu": cpu, "flags": flags, "cores": len(os.sched_getaffinity(0)), "libtorch": torch.__version__, "threads": torch.get_num_threads(),
                    "mkldnn": torch.backends.mkldnn.is_available(), "python": platform.python_version(), **({"isa_caps": caps} if caps else {})},
        "settings": {"latent": args.latent, "batch": args.batch, "vae_batch": args.vae_batch, "repeat": args.repeat, "warmup": args.warmup,
                     "dtype": args.dtype},
        "parts": [],
    }
    for part in [s.strip() for s in args.parts.split(",") if s.strip()]:
        if part not in PARTS:
            raise SystemExit(f"unknown part '{part}' (parts: {', '.join(PARTS)})")
        call = PARTS[part](args, dtype)
        result = measure(part, call, args)
        report["parts"].append(result)
        t = result["per_timed_call"]
        print(f"{part}: min {result['min_s']:.4f} s, median {result['median_s']:.4f} s, peak RSS {result['rss_peak_bytes'] / 2**30:.2f} GiB, "
              f"per call: user {t['user_s']:.2f} s, system {t['system_s']:.2f} s, {t['minor_faults']:.0f} minor faults", flush=True)
        del call
    print(f"machine: {cpu} ({','.join(flags)}{'; capped: ' + caps if caps else ''}), {len(os.sched_getaffinity(0))} cores, torch {torch.__version__} threads {torch.get_num_threads()}, diffusers {diffusers.__version__}")
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump(report, f, indent=2)
        os.replace(args.json + ".tmp", args.json)
        print("wrote " + args.json)


if __name__ == "__main__":
    main()
