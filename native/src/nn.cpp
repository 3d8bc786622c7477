// Linear algebra, layers, losses and attention.
#include "attention.h"
#include "common.h"
#include "fused.h"

#include <ATen/Config.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace psd;

namespace {
at::IntArrayRef pair(const int64_t *values, const char *what) { return ints(values, 2, what); }

int64_t reduction_of(int32_t reduction) {
  switch (reduction) {
    case PSD_REDUCTION_NONE: return at::Reduction::None;
    case PSD_REDUCTION_MEAN: return at::Reduction::Mean;
    case PSD_REDUCTION_SUM: return at::Reduction::Sum;
    default: throw ArgumentError("unknown reduction " + std::to_string(reduction));
  }
}

// Bytes of scores that one query chunk may hold: the full (..., L, S) matrix of a 64x64 latent's self-attention
// is 1 GiB at batch 2 and 8 heads, the largest single tensor of an SD step.
constexpr int64_t kScoreChunkBytes = int64_t{64} << 20;

// libtorch 1.13's CPU group_norm and layer_norm keep the statistics of a bfloat16 / float16 input in that
// precision: against float32 on the same rounded input, 3 to 40 times the output's own rounding error, more as
// the mean grows against the spread (residual streams). Such inputs are normalized in float32 and the result
// rounded back, as the GPU kernels behind diffusers' half-precision runs accumulate in float32.
bool reduced_on_cpu(const at::Tensor &t) {
  return t.is_cpu() && (t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf);
}

c10::optional<at::Tensor> as_float(const c10::optional<at::Tensor> &t) {
  return t.has_value() ? c10::optional<at::Tensor>(t->to(at::kFloat)) : c10::nullopt;
}

// group_norm(x), then SiLU when silu: in place on the norm's output unless a graph records it (SiLU's backward
// needs its input), one activation fewer.
at::Tensor normalized_groups(const at::Tensor &x, int64_t groups, const c10::optional<at::Tensor> &weight,
                             const c10::optional<at::Tensor> &bias, double eps, bool silu) {
  at::Tensor fused;
  if (fused_group_norm(x, groups, weight, bias, eps, silu, &fused)) return fused;
  bool upcast = reduced_on_cpu(x);
  at::Tensor normed = upcast ? at::group_norm(x.to(at::kFloat), groups, as_float(weight), as_float(bias), eps)
                             : at::group_norm(x, groups, weight, bias, eps);
  if (silu) {
    bool recorded = at::GradMode::is_enabled() && normed.requires_grad();
    normed = recorded ? at::silu(normed) : at::silu_(normed);
  }
  return upcast ? normed.to(x.scalar_type()) : normed;
}

// softmax(q k^T * scale + mask) v for one chunk of queries (q: (..., l, E), mask rows matching).
at::Tensor attend(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, const c10::optional<at::Tensor> &mask,
                  double dropout_p, double scale) {
  // The scale goes into q (l x E), not into the l x S scores: one pass over the smaller tensor.
  at::Tensor scores = at::matmul(q * scale, k.transpose(-2, -1));
  if (mask.has_value()) {
    if (mask->scalar_type() == at::kBool) {
      scores.masked_fill_(mask->logical_not(), -std::numeric_limits<double>::infinity());
    } else {
      scores.add_(*mask);
    }
  }
  at::Tensor weights = at::softmax(scores, -1);
  if (dropout_p > 0) weights = at::dropout(weights, dropout_p, true);
  return at::matmul(weights, v);
}

// The math path of scaled-dot-product attention, as torch's reference implementation defines it, computed
// in chunks of queries when the score matrix would be large: each chunk's scores die before the next is made.
at::Tensor attention_math(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                          const c10::optional<at::Tensor> &mask, double dropout_p, bool is_causal, double scale) {
  int64_t L = q.size(-2), S = k.size(-2);
  c10::optional<at::Tensor> m = mask;
  if (is_causal) {
    at::Tensor keep = at::ones({L, S}, q.options().dtype(at::kBool)).tril();
    at::Tensor causal = at::zeros({L, S}, q.options()).masked_fill_(keep.logical_not(), -std::numeric_limits<double>::infinity());
    if (!m.has_value()) m = keep;
    else m = m->scalar_type() == at::kBool ? m->logical_and(keep) : *m + causal;
  }
  int64_t rows = q.numel() / std::max<int64_t>(1, q.size(-1) * L);   // batch x heads
  int64_t row_bytes = std::max<int64_t>(1, rows * S * static_cast<int64_t>(q.element_size()));
  int64_t chunk = std::max<int64_t>(1, kScoreChunkBytes / row_bytes);
  if (chunk >= L) return attend(q, k, v, m, dropout_p, scale);
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < L; start += chunk) {
    int64_t n = std::min(chunk, L - start);
    c10::optional<at::Tensor> rows_mask;
    // a mask broadcasts over queries when its query dimension is 1
    if (m.has_value()) rows_mask = m->dim() >= 2 && m->size(-2) == L ? m->narrow(-2, start, n) : *m;
    parts.push_back(attend(q.narrow(-2, start, n), k, v, rows_mask, dropout_p, scale));
  }
  return at::cat(parts, -2);
}
}  // namespace

extern "C" {

int32_t psd_tensor_matmul(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::matmul(T(a, "a"), T(b, "b"))); });
}

int32_t psd_tensor_bmm(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::bmm(T(a, "a"), T(b, "b"))); });
}

int32_t psd_tensor_baddbmm(const psd_tensor *input, const psd_tensor *a, const psd_tensor *b, double beta, double alpha,
                           psd_tensor **ret) {
  return guarded([&] {
    auto in = T(input, "input");
    auto x = T(a, "a");
    auto y = T(b, "b");
    // libtorch 1.13 can let a NaN in `input` through when beta == 0, so that case never reads it.
    if (beta == 0) {
      // The result has the product's shape; input must still broadcast to it.
      at::Tensor product = at::bmm(x, y);
      (void)at::infer_size(in.get().sizes(), product.sizes());
      *out(ret) = wrap(alpha == 1 ? product : product.mul(alpha));
    } else {
      *out(ret) = wrap(at::baddbmm(in, x, y, beta, alpha));
    }
  });
}

int32_t psd_tensor_linear(const psd_tensor *input, const psd_tensor *weight, const psd_tensor *bias, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::linear(T(input, "input"), T(weight, "weight"), opt(bias))); });
}

int32_t psd_tensor_conv2d(const psd_tensor *input, const psd_tensor *weight, const psd_tensor *bias,
                          const int64_t *stride, const int64_t *padding, const int64_t *dilation, int64_t groups,
                          psd_tensor **ret) {
  return guarded([&] {
    *out(ret) = wrap(at::conv2d(T(input, "input"), T(weight, "weight"), opt(bias), pair(stride, "stride"),
                                pair(padding, "padding"), pair(dilation, "dilation"), groups));
  });
}

int32_t psd_tensor_conv_transpose2d(const psd_tensor *input, const psd_tensor *weight, const psd_tensor *bias,
                                    const int64_t *stride, const int64_t *padding, const int64_t *output_padding,
                                    int64_t groups, const int64_t *dilation, psd_tensor **ret) {
  return guarded([&] {
    *out(ret) = wrap(at::conv_transpose2d(T(input, "input"), T(weight, "weight"), opt(bias), pair(stride, "stride"),
                                          pair(padding, "padding"), pair(output_padding, "output_padding"), groups,
                                          pair(dilation, "dilation")));
  });
}

int32_t psd_tensor_conv2d_prepack(const psd_tensor *weight, const int64_t *stride, const int64_t *padding,
                                  const int64_t *dilation, int64_t groups, psd_tensor **ret) {
  return guarded([&] {
    auto w = T(weight, "weight");
    auto s = pair(stride, "stride"), p = pair(padding, "padding"), d = pair(dilation, "dilation");
    psd_tensor **result = out(ret);
#if AT_MKLDNN_ENABLED()
    const at::Tensor &dense = w.get();
    if (dense.is_mkldnn()) throw ArgumentError("conv2d_prepack: the weight is already a prepacked oneDNN tensor");
    if (dense.dim() != 4) throw ArgumentError("conv2d_prepack: the weight must be 4-d (out, in / groups, kh, kw), got " + std::to_string(dense.dim()) + "-d");
    if (!dense.device().is_cpu() || (dense.scalar_type() != at::kFloat && dense.scalar_type() != at::kBFloat16))
      throw ArgumentError("conv2d_prepack: the weight must be a float32 or bfloat16 CPU tensor");
    at::NoGradGuard no_grad;  // a oneDNN copy of a parameter, never part of a graph
    *result = wrap(at::mkldnn_reorder_conv2d_weight(dense.detach().contiguous().to_mkldnn(), p, s, d, groups));
#else
    (void)w; (void)s; (void)p; (void)d; (void)groups; (void)result;
    throw Unavailable("conv2d_prepack: this libtorch was built without oneDNN (mkldnn), so conv weights cannot be prepacked");
#endif
  });
}

int32_t psd_tensor_conv2d_prepacked(const psd_tensor *input, const psd_tensor *packed_weight, const psd_tensor *bias,
                                    const int64_t *stride, const int64_t *padding, const int64_t *dilation,
                                    int64_t groups, psd_tensor **ret) {
  return guarded([&] {
    auto x = T(input, "input");
    auto w = T(packed_weight, "packed_weight");
    auto b = opt(bias);
    auto s = pair(stride, "stride"), p = pair(padding, "padding"), d = pair(dilation, "dilation");
    psd_tensor **result = out(ret);
#if AT_MKLDNN_ENABLED()
    if (!w.get().is_mkldnn()) throw ArgumentError("conv2d_prepacked: packed_weight is not a prepacked weight (psd_tensor_conv2d_prepack)");
    const at::Tensor &in = x.get();
    if (in.is_mkldnn() || !in.device().is_cpu()) throw ArgumentError("conv2d_prepacked: the input must be a dense CPU tensor");
    // oneDNN would convert silently or fail deep inside; a mismatch is the caller's error, named here
    if (in.scalar_type() != w.get().scalar_type() || (b.has_value() && b->scalar_type() != in.scalar_type()))
      throw ArgumentError(std::string("conv2d_prepacked: the input (") + c10::toString(in.scalar_type()) + "), the packed weight (" +
                          c10::toString(w.get().scalar_type()) + ")" + (b.has_value() ? std::string(" and the bias (") + c10::toString(b->scalar_type()) + ")" : "") +
                          " must have one dtype");
    if (at::GradMode::is_enabled() && (in.requires_grad() || (b.has_value() && b->requires_grad())))
      throw ArgumentError("conv2d_prepacked is for inference: grad mode is on and the input or bias requires grad "
                          "(oneDNN tensors record no graph); use psd_tensor_conv2d");
    at::Tensor y = at::mkldnn_convolution(in.contiguous(), w.get(), b, p, s, d, groups);
    if (y.is_mkldnn()) y = y.to_dense();
    *result = wrap(y.is_contiguous() ? y : y.contiguous());
#else
    (void)x; (void)w; (void)b; (void)s; (void)p; (void)d; (void)groups; (void)result;
    throw Unavailable("conv2d_prepacked: this libtorch was built without oneDNN (mkldnn)");
#endif
  });
}

int32_t psd_tensor_group_norm(const psd_tensor *input, int64_t num_groups, const psd_tensor *weight,
                              const psd_tensor *bias, double eps, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(normalized_groups(T(input, "input"), num_groups, opt(weight), opt(bias), eps, false)); });
}

int32_t psd_tensor_group_norm_silu(const psd_tensor *input, int64_t num_groups, const psd_tensor *weight,
                                   const psd_tensor *bias, double eps, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(normalized_groups(T(input, "input"), num_groups, opt(weight), opt(bias), eps, true)); });
}

int32_t psd_tensor_scale_shift_silu(const psd_tensor *input, const psd_tensor *scale, const psd_tensor *shift,
                                    psd_tensor **ret) {
  return guarded([&] {
    auto borrowed = T(input, "input");  // alive for the whole call: x refers into it
    const at::Tensor &x = borrowed.get();
    at::Tensor fused;
    if (fused_scale_shift_silu(x, T(scale, "scale"), T(shift, "shift"), &fused)) {
      *out(ret) = wrap(fused);
      return;
    }
    // a reduced-precision input is mapped in float32 and rounded once, as the norms above normalise it
    const bool reduced = x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf;
    at::Tensor affine = reduced ? at::addcmul(T(shift, "shift").get().to(at::kFloat), x.to(at::kFloat), T(scale, "scale").get().to(at::kFloat))
                                : at::addcmul(T(shift, "shift"), x, T(scale, "scale"));
    bool recorded = at::GradMode::is_enabled() && affine.requires_grad();
    at::Tensor activated = recorded ? at::silu(affine) : at::silu_(affine);
    *out(ret) = wrap(reduced ? activated.to(x.scalar_type()) : activated);
  });
}

namespace {
// One row of an int8 weight times its scale, vectorized for the CPU at hand (clones chosen at load).
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3")))
void dequantize_row_float(const int8_t *q, float scale, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = static_cast<float>(q[i]) * scale;
}

// As above, rounded to bfloat16 to nearest even (the product of an int8 and a finite scale is never NaN).
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3")))
void dequantize_row_bfloat16(const int8_t *q, float scale, uint16_t *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float f = static_cast<float>(q[i]) * scale;
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    out[i] = static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
  }
}
}  // namespace

int32_t psd_tensor_quantize_rows(const psd_tensor *weight, const psd_tensor *scale, psd_tensor **ret) {
  return guarded([&] {
    auto wb = T(weight, "weight");
    auto sb = T(scale, "scale");
    const at::Tensor &w = wb.get();
    at::Tensor s = sb.get();
    TORCH_CHECK(at::isFloatingType(w.scalar_type()) && w.dim() >= 1, "weight must be a floating-point tensor of at least one dim, got ",
                w.scalar_type(), " ", w.sizes());
    TORCH_CHECK(s.scalar_type() == at::kFloat && s.dim() == 1 && s.size(0) == w.size(0) && s.is_contiguous() && s.device() == w.device(),
                "scale must be a contiguous float32 vector of ", w.size(0), " (one per row of weight ", w.sizes(), ") on its device, got ",
                s.scalar_type(), " ", s.sizes());
    const int64_t rows = w.size(0);
    if (!w.device().is_cpu()) {  // another device: the same arithmetic in its own kernels
      at::Tensor flat = w.to(at::kFloat).reshape({rows, -1});
      at::Tensor largest = std::get<0>(flat.abs().max(1));
      at::Tensor step = largest / 127;
      s.copy_(at::where(step == 0, at::ones_like(step), step));
      *out(ret) = wrap(at::clamp(at::round(flat / s.unsqueeze(1)), -127, 127).to(at::kChar).reshape(w.sizes()));
      return;
    }
    at::Tensor wf = w.to(at::kFloat).contiguous();  // a copy only for a float16 / bfloat16 / float64 weight
    at::Tensor result = at::empty(w.sizes(), w.options().dtype(at::kChar));
    const int64_t cols = rows == 0 ? 0 : wf.numel() / rows;
    const float *src = wf.data_ptr<float>();
    float *scales = s.data_ptr<float>();
    int8_t *dst = result.data_ptr<int8_t>();
    at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        const float *row = src + r * cols;
        float largest = 0;
        bool finite = true;  // std::max would skip a NaN
        for (int64_t c = 0; c < cols; c++) {
          largest = std::max(largest, std::fabs(row[c]));
          finite &= std::isfinite(row[c]);
        }
        TORCH_CHECK(finite, "weight row ", r, " has a non-finite value: it cannot be quantized");
        // an all-zero row, or one so small that its step underflows, keeps scale 1 (its values round to 0)
        const float step = largest / 127 > 0 ? largest / 127 : 1.0f;
        scales[r] = step;
        // as torch.round: to nearest, ties to even (the default rounding mode)
        for (int64_t c = 0; c < cols; c++) dst[r * cols + c] = static_cast<int8_t>(std::clamp(std::nearbyint(row[c] / step), -127.0f, 127.0f));
      }
    });
    *out(ret) = wrap(result);
  });
}

int32_t psd_tensor_dequantize_rows(const psd_tensor *quantized, const psd_tensor *scale, int32_t dtype, psd_tensor **ret) {
  return guarded([&] {
    auto qb = T(quantized, "quantized");
    auto sb = T(scale, "scale");
    const at::Tensor &q = qb.get();
    const at::Tensor &s = sb.get();
    const auto type = static_cast<at::ScalarType>(dtype);
    TORCH_CHECK(q.scalar_type() == at::kChar && q.dim() >= 1, "quantized must be an int8 tensor of at least one dim, got ", q.scalar_type(), " ",
                q.sizes());
    TORCH_CHECK(s.scalar_type() == at::kFloat && s.dim() == 1 && s.size(0) == q.size(0), "scale must be a float32 vector of ", q.size(0),
                " (one per row of quantized ", q.sizes(), "), got ", s.scalar_type(), " ", s.sizes());
    TORCH_CHECK(type == at::kFloat || type == at::kBFloat16, "dequantize_rows makes float32 or bfloat16, not ", type);
    std::vector<int64_t> per_row(q.dim(), 1);
    per_row[0] = q.size(0);
    if (!q.device().is_cpu()) {  // another device: the same arithmetic in its own kernels
      *out(ret) = wrap((q.to(at::kFloat) * s.to(q.device()).view(per_row)).to(type));
      return;
    }
    at::Tensor qc = q.contiguous(), sc = s.to(q.device()).contiguous();  // never a pointer into another device's memory
    at::Tensor result = at::empty(q.sizes(), q.options().dtype(type));
    const int64_t rows = q.size(0), cols = rows == 0 ? 0 : q.numel() / rows;
    const int8_t *src = qc.data_ptr<int8_t>();
    const float *scales = sc.data_ptr<float>();
    if (type == at::kFloat) {
      float *dst = result.data_ptr<float>();
      at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; r++) dequantize_row_float(src + r * cols, scales[r], dst + r * cols, cols);
      });
    } else {
      uint16_t *dst = reinterpret_cast<uint16_t *>(result.data_ptr<at::BFloat16>());
      at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; r++) dequantize_row_bfloat16(src + r * cols, scales[r], dst + r * cols, cols);
      });
    }
    *out(ret) = wrap(result);
  });
}

int32_t psd_tensor_layer_norm(const psd_tensor *input, const int64_t *normalized_shape, int64_t ndims,
                              const psd_tensor *weight, const psd_tensor *bias, double eps, psd_tensor **ret) {
  return guarded([&] {
    auto in = T(input, "input");
    const at::Tensor &x = in.get();
    at::IntArrayRef shape = ints(normalized_shape, ndims, "normalized_shape");
    at::Tensor fused;
    if (fused_layer_norm(x, shape, opt(weight), opt(bias), eps, &fused)) {
      *out(ret) = wrap(fused);
      return;
    }
    *out(ret) = wrap(reduced_on_cpu(x) ? at::layer_norm(x.to(at::kFloat), shape, as_float(opt(weight)), as_float(opt(bias)), eps)
                                             .to(x.scalar_type())
                                       : at::layer_norm(x, shape, opt(weight), opt(bias), eps));
  });
}

int32_t psd_tensor_embedding(const psd_tensor *weight, const psd_tensor *indices, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::embedding(T(weight, "weight"), T(indices, "indices"))); });
}

int32_t psd_tensor_interpolate(const psd_tensor *input, int64_t out_h, int64_t out_w, double scale_h, double scale_w,
                               int32_t mode, int32_t align_corners, psd_tensor **ret) {
  return guarded([&] {
    auto x = T(input, "input");
    bool by_size = out_h > 0 && out_w > 0;
    if (!by_size && !(scale_h > 0 && scale_w > 0))
      throw ArgumentError("interpolate needs an output size or positive scale factors");
    std::vector<int64_t> size{out_h, out_w};
    std::vector<double> scales{scale_h, scale_w};
    c10::OptionalIntArrayRef size_arg = by_size ? c10::OptionalIntArrayRef(size) : c10::nullopt;
    c10::optional<at::ArrayRef<double>> scale_arg =
        by_size ? c10::nullopt : c10::optional<at::ArrayRef<double>>(scales);
    if (mode == PSD_INTERP_NEAREST) {
      if (align_corners >= 0) throw ArgumentError("align_corners applies to bilinear and bicubic only");
      *out(ret) = wrap(at::upsample_nearest2d(x, size_arg, scale_arg));
    } else if (mode == PSD_INTERP_BILINEAR) {
      *out(ret) = wrap(at::upsample_bilinear2d(x, size_arg, align_corners == 1, scale_arg));
    } else if (mode == PSD_INTERP_BICUBIC) {
      *out(ret) = wrap(at::upsample_bicubic2d(x, size_arg, align_corners == 1, scale_arg));
    } else {
      throw ArgumentError("unknown interpolation mode " + std::to_string(mode));
    }
  });
}

int32_t psd_tensor_avg_pool2d(const psd_tensor *input, const int64_t *kernel, const int64_t *stride,
                              const int64_t *padding, bool ceil_mode, bool count_include_pad, psd_tensor **ret) {
  return guarded([&] {
    *out(ret) = wrap(at::avg_pool2d(T(input, "input"), pair(kernel, "kernel"), pair(stride, "stride"),
                                    pair(padding, "padding"), ceil_mode, count_include_pad));
  });
}

int32_t psd_tensor_max_pool2d(const psd_tensor *input, const int64_t *kernel, const int64_t *stride,
                              const int64_t *padding, const int64_t *dilation, bool ceil_mode, psd_tensor **ret) {
  return guarded([&] {
    *out(ret) = wrap(at::max_pool2d(T(input, "input"), pair(kernel, "kernel"), pair(stride, "stride"),
                                    pair(padding, "padding"), pair(dilation, "dilation"), ceil_mode));
  });
}

int32_t psd_tensor_pad(const psd_tensor *input, const int64_t *pads, int64_t npads, int32_t mode, double value,
                       psd_tensor **ret) {
  return guarded([&] {
    auto x = T(input, "input");
    auto p = ints(pads, npads, "pads");
    if (npads % 2 != 0) throw ArgumentError("pads must come in pairs, got " + std::to_string(npads));
    if (mode == PSD_PAD_CONSTANT) {
      *out(ret) = wrap(at::constant_pad_nd(x, p, value));
      return;
    }
    int64_t spatial = npads / 2;
    if (mode == PSD_PAD_REFLECT) {
      if (spatial == 1) *out(ret) = wrap(at::reflection_pad1d(x, p));
      else if (spatial == 2) *out(ret) = wrap(at::reflection_pad2d(x, p));
      else if (spatial == 3) *out(ret) = wrap(at::reflection_pad3d(x, p));
      else throw ArgumentError("reflect padding takes 2, 4 or 6 pads, got " + std::to_string(npads));
    } else if (mode == PSD_PAD_REPLICATE) {
      if (spatial == 1) *out(ret) = wrap(at::replication_pad1d(x, p));
      else if (spatial == 2) *out(ret) = wrap(at::replication_pad2d(x, p));
      else if (spatial == 3) *out(ret) = wrap(at::replication_pad3d(x, p));
      else throw ArgumentError("replicate padding takes 2, 4 or 6 pads, got " + std::to_string(npads));
    } else {
      throw ArgumentError("unknown pad mode " + std::to_string(mode));
    }
  });
}

int32_t psd_tensor_dropout(const psd_tensor *a, double p, bool train, psd_generator *generator, psd_tensor **ret) {
  return guarded([&] {
    auto x = T(a, "a");
    if (p < 0 || p > 1) throw ArgumentError("dropout probability must be in [0, 1], got " + std::to_string(p));
    if (!train || p == 0) {
      *out(ret) = wrap(x.get().alias());
      return;
    }
    if (p == 1) {
      *out(ret) = wrap(x.get() * 0);
      return;
    }
    // Drawn from the given generator, so a seeded training run reproduces its masks.
    at::Tensor keep = at::empty_like(x.get()).bernoulli_(1 - p, generator_of(generator));
    *out(ret) = wrap(x.get() * keep / (1 - p));
  });
}

int32_t psd_tensor_mse_loss(const psd_tensor *a, const psd_tensor *target, int32_t reduction, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::mse_loss(T(a, "a"), T(target, "target"), reduction_of(reduction))); });
}

int32_t psd_tensor_l1_loss(const psd_tensor *a, const psd_tensor *target, int32_t reduction, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::l1_loss(T(a, "a"), T(target, "target"), reduction_of(reduction))); });
}

int32_t psd_tensor_geglu(const psd_tensor *input, psd_tensor **ret) {
  return guarded([&] {
    auto in = T(input, "input");
    const at::Tensor &x = in.get();
    if (x.dim() < 1 || x.size(-1) % 2 != 0)
      throw ArgumentError("geglu: the input's last dimension must hold a value and a gate half, got sizes " + c10::str(x.sizes()));
    at::Tensor fused;
    if (fused_geglu(x, &fused)) {
      *out(ret) = wrap(fused);
      return;
    }
    std::vector<at::Tensor> halves = x.chunk(2, -1);
    *out(ret) = wrap(halves[0] * at::gelu(halves[1]));
  });
}

int32_t psd_tensor_channel_moments(const psd_tensor *input, psd_tensor **ret) {
  return guarded([&] {
    auto in = T(input, "input");
    const at::Tensor &x = in.get();
    if (x.dim() != 4) throw ArgumentError("channel_moments: the input must be 4-d (batch, channels, height, width), got sizes " + c10::str(x.sizes()));
    at::Tensor fused;
    if (fused_channel_moments(x, &fused)) {
      *out(ret) = wrap(fused);
      return;
    }
    at::Tensor d = x.to(at::kDouble);
    *out(ret) = wrap(at::stack({d.sum({2, 3}), (d * d).sum({2, 3})}));
  });
}

int32_t psd_runtime_set_fused_kernels(bool enabled) {
  return guarded([&] { set_fused_kernels(enabled); });
}

int32_t psd_runtime_get_fused_kernels(bool *ret_enabled) {
  return guarded([&] { *out(ret_enabled) = fused_kernels_enabled(); });
}

int32_t psd_runtime_fused_kernel_calls(int64_t *ret_calls) {
  return guarded([&] { *out(ret_calls) = fused_kernel_calls(); });
}

int32_t psd_runtime_set_flash_attention(bool enabled) {
  return guarded([&] { set_flash_attention(enabled); });
}

int32_t psd_runtime_get_flash_attention(bool *ret_enabled) {
  return guarded([&] { *out(ret_enabled) = flash_attention_enabled(); });
}

int32_t psd_runtime_set_attention_choice(int32_t choice) {
  return guarded([&] { set_attention_choice(static_cast<AttentionChoice>(choice)); });
}

int32_t psd_runtime_get_attention_choice(int32_t *ret_choice) {
  return guarded([&] { *out(ret_choice) = static_cast<int32_t>(attention_choice()); });
}

int32_t psd_runtime_attention_timings(int64_t *ret_shapes, int64_t *ret_flash) {
  return guarded([&] { attention_timings(out(ret_shapes, "ret_shapes"), out(ret_flash, "ret_flash")); });
}

int32_t psd_runtime_attention_choices(int64_t *rows, int64_t capacity, int64_t *ret_count) {
  return guarded([&] {
    if (capacity < 0) throw ArgumentError("capacity " + std::to_string(capacity) + " is negative");
    if (capacity > 0 && rows == nullptr) throw ArgumentError("rows is NULL");
    *out(ret_count, "ret_count") = attention_choices(rows, capacity);
  });
}

int32_t psd_runtime_put_attention_choices(const int64_t *rows, int64_t count) {
  return guarded([&] {
    if (count < 0) throw ArgumentError("count " + std::to_string(count) + " is negative");
    if (count > 0 && rows == nullptr) throw ArgumentError("rows is NULL");
    put_attention_choices(rows, count);
  });
}

int32_t psd_runtime_clear_attention_choices() {
  return guarded([&] { clear_attention_choices(); });
}

int32_t psd_runtime_flash_attention_isa(int32_t *ret_isa) {
  return guarded([&] { *out(ret_isa) = static_cast<int32_t>(flash_attention_isa()); });
}

int32_t psd_runtime_set_flash_attention_isa(int32_t isa) {
  return guarded([&] { set_flash_attention_isa(static_cast<FlashIsa>(isa)); });
}

int32_t psd_tensor_scaled_dot_product_attention(const psd_tensor *q, const psd_tensor *k, const psd_tensor *v,
                                                const psd_tensor *mask, double dropout_p, bool is_causal,
                                                double scale, psd_tensor **ret) {
  return guarded([&] {
    auto query = T(q, "q");
    auto key = T(k, "k");
    auto value = T(v, "v");
    auto m = opt(mask);
    double default_scale = 1.0 / std::sqrt(static_cast<double>(query.get().size(-1)));
    double s = scale > 0 ? scale : default_scale;
#if TORCH_VERSION_MAJOR >= 2
    // The fused kernel applies 1/sqrt(E) itself; another scale is folded into q.
    at::Tensor qs = s == default_scale ? query.get() : query.get() * (s / default_scale);
    *out(ret) = wrap(at::scaled_dot_product_attention(qs, key, value, m, dropout_p, is_causal));
#else
    auto math = [&] { return attention_math(query, key, value, m, dropout_p, is_causal, s); };
    // the choice read once: a call that overlaps a switch to "math" takes one path or the other, whole
    const AttentionChoice choice = attention_choice();
    const bool applies = choice != AttentionChoice::kMath && flash_attention_applies(query, key, value, m.has_value(), dropout_p);
    if (applies && choice == AttentionChoice::kTimed)
      *out(ret) = wrap(timed_attention(query, key, value, s, is_causal, math));
    else if (applies && choice == AttentionChoice::kFlash)
      *out(ret) = wrap(flash_attention(query, key, value, s, is_causal));
    else
      *out(ret) = wrap(math());
#endif
  });
}

}  // extern "C"
