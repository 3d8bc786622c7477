#!/usr/bin/env python3
"""The PyTorch twin of one ADD iteration as `./panama-sd train-add --timings true` runs it (AddTrainer.step and
DiscriminatorTrainer.step with train-add's defaults): the student UNet predicts x_0 from x_s at a student
timestep; the VAE decoder, DiffAugment and the frozen DINOv2 feature network carry its sample to the StyleGAN-T
heads (generator hinge); the guided teacher (CFG 3, batch 2B) gives the distillation target at a re-noised level,
weighted by alpha-bar; Adam (beta1 0) and the EMA on the student; then one discriminator step: hinge on real and
detached generated images through DiffAugment and the feature network, R1 on the real features, Adam on the heads.

Same libtorch as the Java side (Debian's python3-torch 1.13.1). The models mirror diffusers' UNet2DConditionModel
and AutoencoderKL and transformers' Dinov2Model and CLIPTextModel by module and key: the shipped teacher, its VAE
and the feature network's safetensors load into them with every key and shape matching (checked at each run),
so the twin computes with the same weights as `train-add --teacher models/fashion-teacher --features
models/fashion-feature-net`. The batch (real latents and their decoded images, the captions' contexts and pooled
condition) is drawn outside the timed step, as the Java side draws it outside AddTrainer.step.

Usage: add_step.py [--batch 32] [--warmup 2] [--steps 10] [--threads N]
Prints one line: the mean s/step over the timed steps.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from teacher_step import ROOT, CLIPTextModel, UNet2DConditionModel, check_against  # noqa: E402


# ---------------------------------------------------------------- the VAE decoder (diffusers' AutoencoderKL)

class VaeResnet(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class VaeAttention(nn.Module):
    """The mid block's single-head spatial self-attention, with a residual."""

    def __init__(self, channels, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.to_q, self.to_k, self.to_v = (nn.Linear(channels, channels) for _ in range(3))
        self.to_out = nn.ModuleList([nn.Linear(channels, channels), nn.Dropout(0.0)])

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(t), self.to_k(t), self.to_v(t)
        a = torch.matmul(q, k.transpose(1, 2)).mul(c ** -0.5).softmax(dim=-1)
        out = self.to_out[0](torch.matmul(a, v))
        return out.transpose(1, 2).reshape(b, c, h, w) + x


class VaeMid(nn.Module):
    def __init__(self, channels, groups):
        super().__init__()
        self.resnets = nn.ModuleList([VaeResnet(channels, channels, groups), VaeResnet(channels, channels, groups)])
        self.attentions = nn.ModuleList([VaeAttention(channels, groups)])

    def forward(self, x):
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class VaeUp(nn.Module):
    def __init__(self, cin, cout, layers, groups, upsample):
        super().__init__()
        self.resnets = nn.ModuleList([VaeResnet(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.upsamplers = nn.ModuleList([nn.Module()]) if upsample else None
        if upsample:
            self.upsamplers[0].conv = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if self.upsamplers is not None:
            x = self.upsamplers[0].conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, groups, layers = list(reversed(cfg["block_out_channels"])), cfg["norm_num_groups"], cfg["layers_per_block"] + 1
        self.conv_in = nn.Conv2d(cfg["latent_channels"], ch[0], 3, padding=1)
        self.mid_block = VaeMid(ch[0], groups)
        self.up_blocks = nn.ModuleList([VaeUp(ch[max(i - 1, 0)], ch[i], layers, groups, i < len(ch) - 1) for i in range(len(ch))])
        self.conv_norm_out = nn.GroupNorm(groups, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], cfg["out_channels"], 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for block in self.up_blocks:
            x = block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class VaeDecoderPart(nn.Module):
    """The AutoencoderKL keys the decoder uses (post_quant_conv, decoder.*); the encoder's are not loaded."""

    def __init__(self, cfg):
        super().__init__()
        self.scaling = cfg["scaling_factor"]
        self.post_quant_conv = nn.Conv2d(cfg["latent_channels"], cfg["latent_channels"], 1)
        self.decoder = Decoder(cfg)

    def forward(self, scaled_latents):
        return self.decoder(self.post_quant_conv(scaled_latents / self.scaling))


# ---------------------------------------------------------------- the feature network (transformers' Dinov2Model)

class Dinov2Layer(nn.Module):
    def __init__(self, d, heads, mlp, eps):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.attention = nn.Module()
        self.attention.attention = nn.Module()
        for name in ("query", "key", "value"):
            setattr(self.attention.attention, name, nn.Linear(d, d))
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(d, d)
        self.layer_scale1 = nn.Module()
        self.layer_scale1.lambda1 = nn.Parameter(torch.ones(d))
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = nn.Linear(d, mlp), nn.Linear(mlp, d)
        self.layer_scale2 = nn.Module()
        self.layer_scale2.lambda1 = nn.Parameter(torch.ones(d))

    def forward(self, x):
        b, n, d = x.shape
        a = self.attention.attention
        h = self.norm1(x)
        split = lambda t: t.reshape(b, n, self.heads, -1).transpose(1, 2)
        q, k, v = split(a.query(h)), split(a.key(h)), split(a.value(h))
        w = torch.matmul(q, k.transpose(-1, -2)).mul(q.shape[-1] ** -0.5).softmax(dim=-1)
        out = torch.matmul(w, v).transpose(1, 2).reshape(b, n, d)
        x = x + self.attention.output.dense(out) * self.layer_scale1.lambda1
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x)))) * self.layer_scale2.lambda1


class Dinov2Model(nn.Module):
    """Images in [-1, 1] -> the hidden states (embeddings, then every layer's output), as Dinov2Model.forward returns them."""

    def __init__(self, cfg):
        super().__init__()
        d, p = cfg["hidden_size"], cfg["patch_size"]
        tokens = (cfg["image_size"] // p) ** 2 + 1
        self.embeddings = nn.Module()
        self.embeddings.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.embeddings.mask_token = nn.Parameter(torch.zeros(1, d))
        self.embeddings.position_embeddings = nn.Parameter(torch.zeros(1, tokens, d))
        self.embeddings.patch_embeddings = nn.Module()
        self.embeddings.patch_embeddings.projection = nn.Conv2d(cfg["num_channels"], d, p, stride=p)
        eps, mlp = cfg["layer_norm_eps"], int(d * cfg["mlp_ratio"])
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([Dinov2Layer(d, cfg["num_attention_heads"], mlp, eps) for _ in range(cfg["num_hidden_layers"])])
        self.layernorm = nn.LayerNorm(d, eps=eps)

    def forward(self, images):
        e = self.embeddings
        tokens = e.patch_embeddings.projection(images).flatten(2).transpose(1, 2)
        x = torch.cat([e.cls_token.expand(images.shape[0], -1, -1), tokens], dim=1) + e.position_embeddings
        hidden = [x]
        for layer in self.encoder.layer:
            x = layer(x)
            hidden.append(x)
        self.layernorm(x)  # the last hidden state the Java side computes too (the classifier's input; the heads do not use it)
        return hidden


# ---------------------------------------------------------------- the discriminator heads (StyleGAN-T's DiscHead)

class SpectralNormConv1d(nn.Module):
    """W / sigma(W), one power iteration per training call on W as (out, in k), circular padding (SpectralNormConv1d.java)."""

    def __init__(self, cin, cout, kernel):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel) * (cin * kernel) ** -0.5)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.register_buffer("weight_u", F.normalize(torch.randn(cout), dim=0, eps=1e-12))
        self.kernel = kernel

    def forward(self, x, training):
        matrix = self.weight.reshape(self.weight.shape[0], -1)
        with torch.no_grad():
            if training:
                v = F.normalize(matrix.t() @ self.weight_u, dim=0, eps=1e-12)
                self.weight_u.copy_(F.normalize(matrix @ v, dim=0, eps=1e-12))
            u = self.weight_u.clone()
            v = F.normalize(matrix.t() @ u, dim=0, eps=1e-12)
        sigma = u @ matrix @ v
        pad = self.kernel // 2
        if pad:
            x = F.pad(x, (pad, pad), mode="circular")
        return F.conv1d(x, self.weight / sigma, self.bias)


class BatchNormLocal(nn.Module):
    """Per-channel statistics over the tokens of groups of 8 samples (biased variance), no running statistics."""

    def __init__(self, channels, virtual_batch=8, eps=1e-5):
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.ones(channels)), nn.Parameter(torch.zeros(channels))
        self.virtual_batch, self.eps = virtual_batch, eps

    def forward(self, x):
        b, c, n = x.shape
        groups = -(-b // self.virtual_batch)
        if b % groups:
            groups = 1
        g = x.reshape(groups, b // groups, c, n)
        mean, var = g.mean(dim=(1, 3), keepdim=True), g.var(dim=(1, 3), unbiased=False, keepdim=True)
        return ((g - mean) / (var + self.eps).sqrt()).reshape(b, c, n) * self.weight[None, :, None] + self.bias[None, :, None]


class DiscriminatorHead(nn.Module):
    def __init__(self, channels, condition_dim, cmap_dim):
        super().__init__()
        self.conv1, self.norm1 = SpectralNormConv1d(channels, channels, 1), BatchNormLocal(channels)
        self.conv9, self.norm9 = SpectralNormConv1d(channels, channels, 9), BatchNormLocal(channels)
        self.cls = SpectralNormConv1d(channels, cmap_dim, 1)
        self.cmapper = nn.Linear(condition_dim, cmap_dim)
        self.cmap_dim = cmap_dim

    def forward(self, tokens, condition, training):
        x = tokens.transpose(1, 2)
        h = F.leaky_relu(self.norm1(self.conv1(x, training)), 0.2)
        r = F.leaky_relu(self.norm9(self.conv9(h, training)), 0.2)
        h = (h + r) / math.sqrt(2)
        projected = self.cls(h, training)
        return (projected * self.cmapper(condition)[:, :, None]).sum(dim=1) / math.sqrt(self.cmap_dim)


class ProjectedDiscriminator(nn.Module):
    def __init__(self, layers, channels, condition_dim, cmap_dim=64):
        super().__init__()
        self.layers = layers
        self.heads = nn.ModuleList([DiscriminatorHead(channels, condition_dim, cmap_dim) for _ in layers])

    def select(self, hidden):
        return [hidden[k] for k in self.layers]

    def forward(self, inputs, condition, training):
        return torch.cat([head(f, condition, training) for head, f in zip(self.heads, inputs)], dim=1)


def diff_augment(x):
    """Brightness, saturation, contrast per sample; one translation by up to H/8 for the batch; a half-size cutout per sample."""
    b, _, h, w = x.shape
    x = x + (torch.rand(b, 1, 1, 1) - 0.5)
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * (torch.rand(b, 1, 1, 1) * 2) + grey
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1) + 0.5) + mean
    m = max(1, h // 8)
    dy, dx = torch.randint(0, 2 * m + 1, (2,)).tolist()
    x = F.pad(x, (m, m, m, m), value=-1.0)[:, :, dy:dy + h, dx:dx + w]
    ch, cw = h // 2, w // 2
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1, 1)).float()
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1, 1)).float()
    ys, xs = torch.arange(h, dtype=torch.float32).reshape(1, 1, h, 1), torch.arange(w, dtype=torch.float32).reshape(1, 1, 1, w)
    inside = ((ys - cy).abs() < ch / 2.0).float() * ((xs - cx).abs() < cw / 2.0).float()
    return x * (1 - inside)


# ---------------------------------------------------------------- the schedule (scaled_linear, zero terminal SNR, v-prediction)

def alphas_cumprod_of(cfg):
    betas = torch.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, cfg["num_train_timesteps"], dtype=torch.float64) ** 2
    if cfg.get("rescale_betas_zero_snr", False):
        root = torch.cumprod(1 - betas, dim=0).sqrt()
        first, last = root[0].clone(), root[-1].clone()
        root = (root - last) * first / (first - last)
        ab = root ** 2
        alphas = torch.cat([ab[0:1], ab[1:] / ab[:-1]])
        betas = 1 - alphas
    return torch.cumprod(1 - betas, dim=0).float()


class Schedule:
    def __init__(self, cfg):
        self.ab = alphas_cumprod_of(cfg)
        self.v = cfg.get("prediction_type") == "v_prediction"

    def coefficients(self, t):
        ab = self.ab[t][:, None, None, None]
        return ab.sqrt(), (1 - ab).sqrt()

    def add_noise(self, x0, eps, t):
        a, s = self.coefficients(t)
        return a * x0 + s * eps

    def x0(self, out, x, t):
        a, s = self.coefficients(t)
        return a * x - s * out if self.v else (x - s * out) / a


# ---------------------------------------------------------------- the step

STUDENT_TIMESTEPS = torch.tensor([999, 749, 499, 249])


def add_iteration(m, batch, opt_student, opt_heads, ema, n, cfg):
    """AddTrainer.step after warm-up, then one DiscriminatorTrainer.step (train-add's defaults)."""
    x0, real_images, context, uncond, condition = batch
    b = x0.shape[0]
    s = STUDENT_TIMESTEPS[torch.randint(0, len(STUDENT_TIMESTEPS), (b,))]
    noisy = m.schedule.add_noise(x0, torch.randn_like(x0), s)
    fake = m.schedule.x0(m.student(noisy, s, context), noisy, s)
    fake_images = m.vae(fake)
    generator_logits = m.heads(m.heads.select(m.features(diff_augment(fake_images))), condition, False)
    adversarial = -generator_logits.mean()
    t = torch.randint(0, 1000, (b,))
    with torch.no_grad():
        renoised = m.schedule.add_noise(fake.detach(), torch.randn_like(fake), t)
        both = torch.cat([renoised, renoised])
        tt = torch.cat([t, t])
        out = m.teacher(both, tt, torch.cat([uncond, context]))
        unguided, guided = m.schedule.x0(out, both, tt).chunk(2)
        target = unguided + cfg["guidance"] * (guided - unguided)
    c = m.schedule.ab[t]  # exponential weighting: c(t) = alpha-bar_t
    distillation = (((fake - target) ** 2).reshape(b, -1).mean(dim=1) * c).mean()
    opt_student.zero_grad(set_to_none=False)
    (adversarial + cfg["lambda"] * distillation).backward()
    opt_student.step()
    with torch.no_grad():
        d = min(cfg["ema"], (1 + n) / (10 + n))
        torch._foreach_mul_(ema, d)
        torch._foreach_add_(ema, [q.detach() for q in m.student.parameters()], alpha=1 - d)
    # the discriminator: hinge on real and detached generated images, R1 on the real features
    with torch.no_grad():
        real_features = m.heads.select(m.features(diff_augment(real_images)))
        fake_features = m.heads.select(m.features(diff_augment(fake_images.detach())))
    real_inputs = [f.requires_grad_(True) for f in real_features]
    real_logits, fake_logits = m.heads(real_inputs, condition, True), m.heads(fake_features, condition, True)
    real_hinge, fake_hinge = F.relu(1 - real_logits).mean(), F.relu(1 + fake_logits).mean()
    real_per_sample = real_logits.mean(dim=1)
    grads = torch.autograd.grad(real_per_sample.sum(), real_inputs, create_graph=True)
    r1 = sum((g ** 2).reshape(b, -1).sum(dim=1) for g in grads).mean() * (cfg["gamma"] / 2)
    opt_heads.zero_grad(set_to_none=False)
    (real_hinge + fake_hinge + r1).backward()
    opt_heads.step()
    return adversarial.item(), distillation.item(), real_hinge.item(), fake_hinge.item(), r1.item()


class Models:
    def __init__(self, teacher_dir, features_dir):
        read = lambda *p: json.load(open(os.path.join(*p)))
        unet_cfg = read(teacher_dir, "unet", "config.json")
        self.teacher, self.student = UNet2DConditionModel(unet_cfg), UNet2DConditionModel(unet_cfg)
        self.text = CLIPTextModel(read(teacher_dir, "text_encoder", "config.json"))
        vae_cfg = read(teacher_dir, "vae", "config.json")
        self.vae = VaeDecoderPart(vae_cfg)
        feature_cfg = read(features_dir, "config.json")
        self.features = Dinov2Model(feature_cfg)
        depth = feature_cfg["num_hidden_layers"]
        self.heads = ProjectedDiscriminator([0, max(1, depth // 3), max(1, 2 * depth // 3), depth], feature_cfg["hidden_size"],
                                            self.text.text_model.final_layer_norm.normalized_shape[0])
        self.schedule = Schedule(read(teacher_dir, "scheduler", "scheduler_config.json"))
        counts = [check_against(self.teacher, os.path.join(teacher_dir, "unet", "diffusion_pytorch_model.safetensors")),
                  check_against(self.text, os.path.join(teacher_dir, "text_encoder", "model.safetensors")),
                  load_decoder(self.vae, os.path.join(teacher_dir, "vae", "diffusion_pytorch_model.safetensors")),
                  check_against(self.features, os.path.join(features_dir, "model.safetensors"))]
        self.student.load_state_dict(self.teacher.state_dict())  # the student starts as the teacher
        for frozen in (self.teacher, self.text, self.vae, self.features):
            frozen.requires_grad_(False)
        self.loaded = counts


def load_decoder(vae, file):
    from teacher_step import read_safetensors
    state = {k: v for k, v in read_safetensors(file).items() if k.startswith(("decoder.", "post_quant_conv."))}
    vae.load_state_dict(state, strict=True)
    return len(state)


def draw_batch(m, b):
    """Real latents (random, the shape the teacher's VAE gives 32x32 images) decoded to the heads' real images, captions' contexts."""
    ids = torch.full((b, 77), 49407, dtype=torch.long)
    ids[:, 0] = 49406
    ids[:, 1:5] = torch.randint(0, 49406, (b, 4))
    empty = torch.full((b, 77), 49407, dtype=torch.long)
    empty[:, 0] = 49406
    with torch.no_grad():
        x0 = torch.randn(b, 4, 16, 16)
        context = m.text(ids)
        pooled = context[torch.arange(b), ids.argmax(dim=-1)]
        return x0, m.vae(x0), context, m.text(empty), pooled


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--teacher", default=os.path.join(ROOT, "models", "fashion-teacher"))
    p.add_argument("--features", default=os.path.join(ROOT, "models", "fashion-feature-net"))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = Models(a.teacher, a.features)
    print("the twin loads the teacher, its text encoder, VAE decoder and the feature network: %d + %d + %d + %d tensors, every key and shape matching"
          % tuple(m.loaded))
    cfg = {"guidance": 3.0, "lambda": 2.5, "gamma": 1.0, "ema": 0.99}  # train-add's defaults
    opt_student = torch.optim.Adam(m.student.parameters(), lr=5e-5, betas=(0.0, 0.99), eps=1e-8)
    opt_heads = torch.optim.Adam(m.heads.parameters(), lr=1e-4, betas=(0.0, 0.99), eps=1e-8)
    ema = [q.detach().clone() for q in m.student.parameters()]
    seconds = 0.0
    for i in range(a.warmup + a.steps):
        batch = draw_batch(m, a.batch)
        start = time.perf_counter()
        losses = add_iteration(m, batch, opt_student, opt_heads, ema, i + 1, cfg)
        if i >= a.warmup:
            seconds += time.perf_counter() - start
        if not all(math.isfinite(x) for x in losses):
            raise SystemExit("non-finite loss at step %d: %s" % (i + 1, losses))
    print(f"PyTorch {torch.__version__} twin, ADD step at batch {a.batch}, {a.threads} threads: {seconds / a.steps:.3f} s/step "
          f"(mean of {a.steps} steps after {a.warmup} warm-up)")


if __name__ == "__main__":
    sys.exit(main())
