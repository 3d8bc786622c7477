#!/usr/bin/env python3
"""The PyTorch twin of `./panama-sd bench-train`: the shipped teacher's training step (CLIP text encoder and
UNet2DConditionModel trained jointly, v-prediction MSE, gradient clipping at 1, AdamW, EMA of both) in plain
PyTorch, on the same libtorch as the Java side (Debian's python3-torch 1.13.1). The models mirror diffusers'
UNet2DConditionModel and transformers' CLIPTextModel module by module, so the shipped teacher's safetensors load
into them with every key and shape matching (`--check`), which is how we know the twin is the same model.

Usage: teacher_step.py [--batch 128] [--warmup 3] [--steps 10] [--threads N] [--check MODEL_DIR]
Prints one line: s/step and img/s, as bench-train does.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


# ---------------------------------------------------------------- the UNet (diffusers 0.27 layout and names)

class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups=32, eps=1e-5):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    def __init__(self, dim, heads, dim_head, context_dim=None):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim or dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim or dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])

    def forward(self, x, context=None):
        context = x if context is None else context
        b, n, _ = x.shape
        q, k, v = self.to_q(x), self.to_k(context), self.to_v(context)
        split = lambda t: t.reshape(b, t.shape[1], self.heads, -1).transpose(1, 2)
        q, k, v = split(q), split(k), split(v)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
        out = torch.matmul(scores.softmax(dim=-1), v).transpose(1, 2).reshape(b, n, -1)
        return self.to_out[0](out)


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, 4 * dim), nn.Dropout(0.0), nn.Linear(4 * dim, dim)])

    def forward(self, x):
        return self.net[2](self.net[0](x))


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, dim_head, context_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, dim_head)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, dim_head, context_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, context):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class Transformer2DModel(nn.Module):
    def __init__(self, channels, heads, context_dim, groups=32):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(channels, heads, channels // heads, context_dim)])
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x, context):
        b, c, h, w = x.shape
        t = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(b, h * w, c)
        for block in self.transformer_blocks:
            t = block(t, context)
        return self.proj_out(t.reshape(b, h, w, c).permute(0, 3, 1, 2)) + x


class Downsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    def __init__(self, cin, cout, temb, layers, attention, heads, context_dim, downsample):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, temb) for i in range(layers)])
        if attention:
            self.attentions = nn.ModuleList([Transformer2DModel(cout, heads, context_dim) for _ in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if downsample else None

    def forward(self, x, temb, context):
        skips = []
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if hasattr(self, "attentions"):
                x = self.attentions[i](x, context)
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x, skips


class UpBlock(nn.Module):
    def __init__(self, cin, cout, prev, temb, layers, attention, heads, context_dim, upsample):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock2D((prev if i == 0 else cout) + (cin if i == layers - 1 else cout), cout, temb) for i in range(layers)])
        if attention:
            self.attentions = nn.ModuleList([Transformer2DModel(cout, heads, context_dim) for _ in range(layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if upsample else None

    def forward(self, x, skips, temb, context):
        for i, resnet in enumerate(self.resnets):
            x = resnet(torch.cat([x, skips.pop()], dim=1), temb)
            if hasattr(self, "attentions"):
                x = self.attentions[i](x, context)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class MidBlock(nn.Module):
    def __init__(self, channels, temb, heads, context_dim):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(channels, channels, temb), ResnetBlock2D(channels, channels, temb)])
        self.attentions = nn.ModuleList([Transformer2DModel(channels, heads, context_dim)])

    def forward(self, x, temb, context):
        x = self.resnets[0](x, temb)
        return self.resnets[1](self.attentions[0](x, context), temb)


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.linear_1 = nn.Linear(cin, cout)
        self.linear_2 = nn.Linear(cout, cout)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class UNet2DConditionModel(nn.Module):
    """diffusers' UNet2DConditionModel for the configs the teacher uses (its attention_head_dim is the head count)."""

    def __init__(self, cfg):
        super().__init__()
        ch = cfg["block_out_channels"]
        layers, heads, ctx = cfg["layers_per_block"], cfg["attention_head_dim"], cfg["cross_attention_dim"]
        temb = ch[0] * 4
        self.flip = cfg.get("flip_sin_to_cos", True)
        self.shift = cfg.get("freq_shift", 0)
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.down_blocks = nn.ModuleList()
        out = ch[0]
        for i, kind in enumerate(cfg["down_block_types"]):
            cin, out = out, ch[i]
            self.down_blocks.append(DownBlock(cin, out, temb, layers, kind.startswith("CrossAttn"), heads, ctx, i < len(ch) - 1))
        self.mid_block = MidBlock(ch[-1], temb, heads, ctx)
        self.up_blocks = nn.ModuleList()
        rev = list(reversed(ch))
        out = rev[0]
        for i, kind in enumerate(cfg["up_block_types"]):
            prev, out = out, rev[i]
            cin = rev[min(i + 1, len(ch) - 1)]
            self.up_blocks.append(UpBlock(cin, out, prev, temb, layers + 1, kind.startswith("CrossAttn"), heads, ctx, i < len(ch) - 1))
        self.conv_norm_out = nn.GroupNorm(32, ch[0], eps=1e-5)
        self.conv_out = nn.Conv2d(ch[0], cfg["out_channels"], 3, padding=1)
        self.channels0 = ch[0]

    def time_proj(self, t):
        half = self.channels0 // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - self.shift))
        args = t.float()[:, None] * freqs[None, :]
        emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
        return torch.cat([emb[:, half:], emb[:, :half]], dim=-1) if self.flip else emb

    def forward(self, x, t, context):
        temb = self.time_embedding(self.time_proj(t))
        x = self.conv_in(x)
        skips = [x]
        for block in self.down_blocks:
            x, s = block(x, temb, context)
            skips.extend(s)
        x = self.mid_block(x, temb, context)
        for block in self.up_blocks:
            n = len(block.resnets)
            x = block(x, skips[-n:], temb, context)
            del skips[-n:]
        return self.conv_out(F.silu(self.conv_norm_out(x)))


# ---------------------------------------------------------------- the text encoder (transformers' CLIPTextModel)

class CLIPAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x, mask):
        b, n, d = x.shape
        split = lambda t: t.reshape(b, n, self.heads, -1).transpose(1, 2)
        q, k, v = split(self.q_proj(x) * (d // self.heads) ** -0.5), split(self.k_proj(x)), split(self.v_proj(x))
        w = torch.matmul(q, k.transpose(-1, -2)) + mask
        return self.out_proj(torch.matmul(w.softmax(dim=-1), v).transpose(1, 2).reshape(b, n, d))


class CLIPMLP(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, inner), nn.Linear(inner, dim)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(h * torch.sigmoid(1.702 * h))  # quick_gelu


class CLIPEncoderLayer(nn.Module):
    def __init__(self, dim, heads, inner, eps):
        super().__init__()
        self.self_attn = CLIPAttention(dim, heads)
        self.layer_norm1 = nn.LayerNorm(dim, eps=eps)
        self.mlp = CLIPMLP(dim, inner)
        self.layer_norm2 = nn.LayerNorm(dim, eps=eps)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class Embeddings(nn.Module):
    def __init__(self, vocab, positions, dim):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        self.position_embedding = nn.Embedding(positions, dim)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"])
                                     for _ in range(cfg["num_hidden_layers"])])


class TextTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = Embeddings(cfg["vocab_size"], cfg["max_position_embeddings"], cfg["hidden_size"])
        self.encoder = Encoder(cfg)
        self.final_layer_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])


class CLIPTextModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.text_model = TextTransformer(cfg)

    def forward(self, ids):
        m = self.text_model
        n = ids.shape[1]
        x = m.embeddings.token_embedding(ids) + m.embeddings.position_embedding(torch.arange(n))[None]
        mask = torch.full((n, n), float("-inf")).triu(1)  # causal
        for layer in m.encoder.layers:
            x = layer(x, mask)
        return m.final_layer_norm(x)


# ---------------------------------------------------------------- the step

def read_safetensors(path):
    """{key: tensor} from a safetensors file (8-byte header length, JSON header, raw little-endian data)."""
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    out = {}
    for key, e in header.items():
        if key == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        data = bytearray(raw[8 + n + begin:8 + n + end])
        out[key] = torch.frombuffer(data, dtype=dtypes[e["dtype"]]).reshape(e["shape"]) if end > begin else torch.empty(e["shape"])
    return out


def check_against(model, file):
    """Loads a checkpoint with strict key and shape matching: the twin is the model the file holds."""
    state = read_safetensors(file)
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}
    model.load_state_dict(state, strict=True)
    return len(state)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--check", default=None, help="a model directory whose unet/ and text_encoder/ must load into the twin")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    models = os.path.join(ROOT, "models", "fashion-teacher")
    unet_cfg = json.load(open(os.path.join(models, "unet", "config.json")))
    text_cfg = json.load(open(os.path.join(models, "text_encoder", "config.json")))
    unet, text = UNet2DConditionModel(unet_cfg), CLIPTextModel(text_cfg)
    if a.check:
        n = check_against(unet, os.path.join(a.check, "unet", "diffusion_pytorch_model.safetensors"))
        m = check_against(text, os.path.join(a.check, "text_encoder", "model.safetensors"))
        print(f"the twin loads {a.check}: {n} UNet and {m} text-encoder tensors, every key and shape matching")
    params = list(text.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    ema = [q.detach().clone() for q in params]
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000) ** 2  # scaled_linear, as the teacher's scheduler
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    b = a.batch
    start = 0.0
    for i in range(a.warmup + a.steps):
        if i == a.warmup:
            start = time.perf_counter()
        # captions as the Java side tokenizes them: start, a few words, end, padded to 77 with the end token
        ids = torch.full((b, 77), 49407, dtype=torch.long)
        ids[:, 0] = 49406
        ids[:, 1:5] = torch.randint(0, 49406, (b, 4))
        x0 = torch.randn(b, 4, 16, 16)
        t = torch.randint(0, 1000, (b,))
        eps = torch.randn_like(x0)
        ab = alphas_cumprod[t][:, None, None, None]
        noisy = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        target = ab.sqrt() * eps - (1 - ab).sqrt() * x0
        loss = F.mse_loss(unet(noisy, t, text(ids)), target)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            d = min(0.998, (1 + i + 1) / (10 + i + 1))
            torch._foreach_mul_(ema, d)
            torch._foreach_add_(ema, [q.detach() for q in params], alpha=1 - d)
    seconds = time.perf_counter() - start
    n_params = sum(q.numel() for q in unet.parameters())
    print(f"PyTorch {torch.__version__} twin, teacher training step, UNet {n_params / 1e6:.2f}M parameters, batch {b}, {a.threads} threads: "
          f"{seconds / a.steps:.3f} s/step, {b * a.steps / seconds:.1f} img/s ({a.steps} steps after {a.warmup} warm-up)")


if __name__ == "__main__":
    sys.exit(main())
