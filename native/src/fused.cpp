// Fused normalisation and activation kernels for inference on the CPU: group norm (with SiLU), layer norm, GEGLU
// and a norm's per-channel map + SiLU (the banded VAE's), each one pass that reads its input and writes its output once, computing in float32 whatever the storage.
// libtorch 1.13 takes four passes and two float32 copies for a bfloat16 group norm + SiLU (normalising a bfloat16
// input in its own precision loses too much, nn.cpp), and a chunked GEGLU makes its gelu and product in two more
// tensors with a scalar erf for bfloat16. The kernels are written once over Lanes<W> (simd_lanes.h) and compiled for
// AVX-512 and for AVX2 + FMA; the instruction set is the flash attention kernels' (CPUID, capped by
// ATEN_CPU_CAPABILITY, or what psd_runtime_set_flash_attention_isa chose). Other inputs (a graph to record, a
// strided input, other dtypes or devices, a CPU without either set) take libtorch's ops, as before.
#include "fused.h"

#include <ATen/Parallel.h>
#include <c10/util/accumulate.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <cmath>
#include <vector>

#include "attention.h"
#include "simd_lanes.h"

namespace psd {
namespace {
std::atomic<bool> fused_enabled{true};
std::atomic<int64_t> fused_calls{0};

#ifdef PSD_SIMD_LANES
// Elements of the storage type T as float32 lanes: T is float or uint16_t (the bits of a bfloat16).
template <int W, typename T>
struct Io;
template <int W>
struct Io<W, float> {
  using V = typename Lanes<W>::V;
  static PSD_INLINE V load(const float *p) { return Lanes<W>::load(p); }
  static PSD_INLINE void store(float *p, V v) { Lanes<W>::store(p, v); }
  static PSD_INLINE float scalar(float x) { return x; }
  static PSD_INLINE float stored(float x) { return x; }
};
template <int W>
struct Io<W, uint16_t> {
  using V = typename Lanes<W>::V;
  static PSD_INLINE V load(const uint16_t *p) { return Lanes<W>::load_bf16(p); }
  static PSD_INLINE void store(uint16_t *p, V v) { Lanes<W>::store_bf16(p, v); }
  static PSD_INLINE float scalar(uint16_t x) {
    uint32_t bits = static_cast<uint32_t>(x) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
  static PSD_INLINE uint16_t stored(float f) {
    if (std::isnan(f)) return 0x7FC0;
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
  }
};

// x * sigmoid(x), with the exponential's argument never positive: sigmoid(x) = 1 / (1 + z) for x >= 0 and
// z / (1 + z) below, z = e^-|x| (Lanes::exp2 takes arguments up to 0.5; relative error below 1e-8).
template <int W>
PSD_INLINE typename Lanes<W>::V silu(typename Lanes<W>::V x) {
  using V = typename Lanes<W>::V;
  const V minus_abs = x > 0.0f ? -x : x;
  const V z = Lanes<W>::exp2(minus_abs * 1.4426950408889634f);
  const V numerator = x >= 0.0f ? Lanes<W>::splat(1.0f) : z;
  return x * (numerator / (1.0f + z));
}

inline float silu_scalar(float x) {
  const float z = std::exp(-std::fabs(x));
  return x * ((x >= 0.0f ? 1.0f : z) / (1.0f + z));
}

// GELU with the exact erf, 0.5 g (1 + erf(g / sqrt 2)); erf by Abramowitz and Stegun 7.1.26 (absolute error below
// 1.5e-7, the formula of ATen's own vectorized erf): erf(a) = 1 - t (a1 + t (a2 + ... t a5)) e^(-a^2), t = 1 / (1 + p a).
template <int W>
PSD_INLINE typename Lanes<W>::V gelu(typename Lanes<W>::V g) {
  using V = typename Lanes<W>::V;
  const V z = g * 0.70710678118654752f;
  const V a = z < 0.0f ? -z : z;
  const V t = 1.0f / (1.0f + 0.3275911f * a);
  V poly = Lanes<W>::splat(1.061405429f);
  poly = poly * t - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  const V e = Lanes<W>::exp2(-(a * a) * 1.4426950408889634f);
  const V erf_abs = 1.0f - poly * t * e;
  const V erf = z < 0.0f ? -erf_abs : erf_abs;
  return 0.5f * g * (1.0f + erf);
}

inline float gelu_scalar(float g) { return 0.5f * g * (1.0f + std::erf(g * 0.70710678118654752f)); }

// Sum of n values, and of their squared distances from `center`, in float32 lanes over pieces of 1,024 values
// added up in double (a group holds up to 10^5-10^6 values; float32 sums alone would lose digits).
template <int W, typename T>
PSD_INLINE double sum_of(const T *x, int64_t n, float center, bool squares) {
  using L = Lanes<W>;
  using V = typename L::V;
  using IO = Io<W, T>;
  double total = 0;
  const V c = L::splat(center);
  int64_t i = 0;
  while (i + W <= n) {
    const int64_t piece_end = std::min(n, i + 1024) - W;
    V a = V{}, b = V{};  // two chains
    for (; i <= piece_end - W; i += 2 * W) {
      V u = IO::load(x + i) - c, v = IO::load(x + i + W) - c;
      a += squares ? u * u : u;
      b += squares ? v * v : v;
    }
    for (; i <= piece_end; i += W) {
      V u = IO::load(x + i) - c;
      a += squares ? u * u : u;
    }
    total += static_cast<double>(L::sum(a + b));
  }
  for (; i < n; i++) {
    const float u = IO::scalar(x[i]) - center;
    total += squares ? static_cast<double>(u) * u : u;
  }
  return total;
}

// The mean and 1 / sqrt(variance + eps) of n values, the variance biased (as torch's norms), by two passes: the
// mean, then the squared distances from it (no cancellation when the mean is large against the spread).
template <int W, typename T>
PSD_INLINE void moments(const T *x, int64_t n, double eps, float *mean, float *rstd) {
  const double m = sum_of<W, T>(x, n, 0.0f, false) / static_cast<double>(n);
  const double var = sum_of<W, T>(x, n, static_cast<float>(m), true) / static_cast<double>(n);
  *mean = static_cast<float>(m);
  *rstd = static_cast<float>(1.0 / std::sqrt(std::max(var, 0.0) + eps));
}

// y = x * a + b over n values, then SiLU when asked.
template <int W, typename T>
PSD_INLINE void affine(const T *x, T *y, int64_t n, float a, float b, bool with_silu) {
  using L = Lanes<W>;
  using V = typename L::V;
  using IO = Io<W, T>;
  const V av = L::splat(a), bv = L::splat(b);
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    V v = IO::load(x + i) * av + bv;
    IO::store(y + i, with_silu ? silu<W>(v) : v);
  }
  for (; i < n; i++) {
    const float v = IO::scalar(x[i]) * a + b;
    y[i] = IO::stored(with_silu ? silu_scalar(v) : v);
  }
}

// Pixels [begin, end) of a channels-last image of c channels: y = SiLU(x * scale + shift), scale and shift per channel.
template <int W, typename T>
PSD_INLINE void affine_silu_pixels(const T *x, T *y, const float *scale, const float *shift, int64_t c, int64_t begin, int64_t end) {
  using L = Lanes<W>;
  using IO = Io<W, T>;
  for (int64_t p = begin; p < end; p++) {
    const T *xp = x + p * c;
    T *yp = y + p * c;
    int64_t i = 0;
    for (; i + W <= c; i += W) IO::store(yp + i, silu<W>(IO::load(xp + i) * L::load(scale + i) + L::load(shift + i)));
    for (; i < c; i++) yp[i] = IO::stored(silu_scalar(IO::scalar(xp[i]) * scale[i] + shift[i]));
  }
}

// Sum and sum of squares of n contiguous values, in double lanes (a norm's statistics: no cancellation to fear).
template <int W, typename T>
PSD_INLINE void moments_of_run(const T *x, int64_t n, double *sum, double *squares) {
  using L = Lanes<W>;
  using D = typename L::D;
  using IO = Io<W, T>;
  D s0{}, s1{}, q0{}, q1{};
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    D a, b;
    L::widen(IO::load(x + i), &a, &b);
    s0 += a;
    s1 += b;
    q0 += a * a;
    q1 += b * b;
  }
  double s = L::sum_d(s0 + s1), q = L::sum_d(q0 + q1);
  for (; i < n; i++) {
    const double v = IO::scalar(x[i]);
    s += v;
    q += v * v;
  }
  *sum = s;
  *squares = q;
}

// Pixels [begin, end) of channels-last rows of c values: per channel sums and sums of squares added to sum, squares.
template <int W, typename T>
PSD_INLINE void moments_of_pixels(const T *x, int64_t c, int64_t begin, int64_t end, double *sum, double *squares) {
  using L = Lanes<W>;
  using D = typename L::D;
  using IO = Io<W, T>;
  for (int64_t p = begin; p < end; p++) {
    const T *xp = x + p * c;
    int64_t i = 0;
    for (; i + W <= c; i += W) {
      D a, b;
      L::widen(IO::load(xp + i), &a, &b);
      L::store_d(sum + i, L::load_d(sum + i) + a);
      L::store_d(sum + i + W / 2, L::load_d(sum + i + W / 2) + b);
      L::store_d(squares + i, L::load_d(squares + i) + a * a);
      L::store_d(squares + i + W / 2, L::load_d(squares + i + W / 2) + b * b);
    }
    for (; i < c; i++) {
      const double v = IO::scalar(xp[i]);
      sum[i] += v;
      squares[i] += v * v;
    }
  }
}

// Groups [begin, end) of a group norm: group i is sample i / groups, channels (i % groups) * cg .. + cg, each
// channel `plane` contiguous values.
template <int W, typename T>
PSD_INLINE void group_norm_groups(const T *x, T *y, const float *gamma, const float *beta, int64_t groups, int64_t cg, int64_t plane,
                                  double eps, bool with_silu, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; i++) {
    const int64_t offset = i * cg * plane;
    float mean, rstd;
    moments<W, T>(x + offset, cg * plane, eps, &mean, &rstd);
    for (int64_t c = 0; c < cg; c++) {
      const int64_t channel = (i % groups) * cg + c;
      const float a = rstd * (gamma != nullptr ? gamma[channel] : 1.0f);
      const float b = (beta != nullptr ? beta[channel] : 0.0f) - mean * a;
      affine<W, T>(x + offset + c * plane, y + offset + c * plane, plane, a, b, with_silu);
    }
  }
}

// Rows [begin, end) of a layer norm over d values each: y = (x - mean) rstd gamma + beta.
template <int W, typename T>
PSD_INLINE void layer_norm_rows(const T *x, T *y, const float *gamma, const float *beta, int64_t d, double eps, int64_t begin, int64_t end) {
  using L = Lanes<W>;
  using V = typename L::V;
  using IO = Io<W, T>;
  for (int64_t r = begin; r < end; r++) {
    const T *xr = x + r * d;
    T *yr = y + r * d;
    float mean, rstd;
    moments<W, T>(xr, d, eps, &mean, &rstd);
    const V m = L::splat(mean), s = L::splat(rstd);
    int64_t i = 0;
    for (; i + W <= d; i += W) {
      V v = (IO::load(xr + i) - m) * s;
      if (gamma != nullptr) v = v * L::load(gamma + i);
      if (beta != nullptr) v = v + L::load(beta + i);
      IO::store(yr + i, v);
    }
    for (; i < d; i++) {
      float v = (IO::scalar(xr[i]) - mean) * rstd;
      if (gamma != nullptr) v *= gamma[i];
      if (beta != nullptr) v += beta[i];
      yr[i] = IO::stored(v);
    }
  }
}

// Rows [begin, end) of GEGLU: out[r][j] = in[r][j] * gelu(in[r][n + j]).
template <int W, typename T>
PSD_INLINE void geglu_rows(const T *in, T *out, int64_t n, int64_t begin, int64_t end) {
  using IO = Io<W, T>;
  for (int64_t r = begin; r < end; r++) {
    const T *value = in + r * 2 * n, *gate = value + n;
    T *o = out + r * n;
    int64_t j = 0;
    for (; j + W <= n; j += W) IO::store(o + j, IO::load(value + j) * gelu<W>(IO::load(gate + j)));
    for (; j < n; j++) o[j] = IO::stored(IO::scalar(value[j]) * gelu_scalar(IO::scalar(gate[j])));
  }
}

// One entry point per instruction set (named by it) and storage type (an overload); the templates above are inlined
// into each.
#define PSD_FUSED_ENTRY(target_attr, W, T, isa)                                                                              \
  __attribute__((target(target_attr))) void group_norm_##isa(const T *x, T *y, const float *gamma, const float *beta,      \
                                                                 int64_t groups, int64_t cg, int64_t plane, double eps,       \
                                                                 bool with_silu, int64_t begin, int64_t end) {                \
    group_norm_groups<W, T>(x, y, gamma, beta, groups, cg, plane, eps, with_silu, begin, end);                              \
  }                                                                                                                          \
  __attribute__((target(target_attr))) void layer_norm_##isa(const T *x, T *y, const float *gamma, const float *beta,      \
                                                                 int64_t d, double eps, int64_t begin, int64_t end) {         \
    layer_norm_rows<W, T>(x, y, gamma, beta, d, eps, begin, end);                                                           \
  }                                                                                                                          \
  __attribute__((target(target_attr))) void geglu_##isa(const T *in, T *out, int64_t n, int64_t begin, int64_t end) {     \
    geglu_rows<W, T>(in, out, n, begin, end);                                                                               \
  }                                                                                                                          \
  __attribute__((target(target_attr))) void affine_planes_##isa(const T *x, T *y, const float *scale, const float *shift,  \
                                                                    int64_t plane, int64_t begin, int64_t end) {              \
    for (int64_t i = begin; i < end; i++) affine<W, T>(x + i * plane, y + i * plane, plane, scale[i], shift[i], true);     \
  }                                                                                                                          \
  __attribute__((target(target_attr))) void moments_runs_##isa(const T *x, int64_t n, int64_t run_stride_b, int64_t run_stride_c,   \
                                                                   int64_t channels, double *sum, double *squares,            \
                                                                   int64_t begin, int64_t end) {                              \
    for (int64_t i = begin; i < end; i++)                                                                                    \
      moments_of_run<W, T>(x + (i / channels) * run_stride_b + (i % channels) * run_stride_c, n, sum + i, squares + i);      \
  }                                                                                                                          \
  __attribute__((target(target_attr))) void moments_pixels_##isa(const T *x, int64_t c, int64_t begin, int64_t end,       \
                                                                     double *sum, double *squares) {                          \
    moments_of_pixels<W, T>(x, c, begin, end, sum, squares);                                                                 \
  }                                                                                                                          \
  __attribute__((target(target_attr))) void affine_pixels_##isa(const T *x, T *y, const float *scale, const float *shift,  \
                                                                    int64_t c, int64_t begin, int64_t end) {                  \
    affine_silu_pixels<W, T>(x, y, scale, shift, c, begin, end);                                                            \
  }

PSD_FUSED_ENTRY("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma", 16, float, avx512)
PSD_FUSED_ENTRY("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma", 16, uint16_t, avx512)
PSD_FUSED_ENTRY("avx2,fma", 8, float, avx2)
PSD_FUSED_ENTRY("avx2,fma", 8, uint16_t, avx2)
#undef PSD_FUSED_ENTRY

// Calls f with x's data as the kernels' storage type (float, or uint16_t for bfloat16's bits), and y's where given.
template <typename F>
void with_storage(const at::Tensor &x, F &&f) {
  if (x.scalar_type() == at::kFloat) f(static_cast<const float *>(x.data_ptr()));
  else f(static_cast<const uint16_t *>(x.data_ptr()));
}
template <typename F>
void with_storage(const at::Tensor &x, const at::Tensor &y, F &&f) {
  if (x.scalar_type() == at::kFloat) f(static_cast<const float *>(x.data_ptr()), static_cast<float *>(y.data_ptr()));
  else f(static_cast<const uint16_t *>(x.data_ptr()), static_cast<uint16_t *>(y.data_ptr()));
}
#endif  // PSD_SIMD_LANES

// Whether the fused kernels compute x: on, a CPU with kernels, CPU float32 / bfloat16, contiguous, nothing to record.
// A channels-last input too where channels_last_too.
bool applies(const at::Tensor &x, std::initializer_list<const c10::optional<at::Tensor> *> params, bool channels_last_too = false) {
#ifdef PSD_SIMD_LANES
  if (!fused_enabled.load() || flash_attention_isa() == FlashIsa::kNone) return false;
  if (!x.is_cpu() || x.layout() != at::kStrided || (x.scalar_type() != at::kFloat && x.scalar_type() != at::kBFloat16)) return false;
  if (!(x.is_contiguous() || (channels_last_too && x.is_contiguous(at::MemoryFormat::ChannelsLast))) || x.numel() == 0) return false;
  if (at::GradMode::is_enabled()) {
    if (x.requires_grad()) return false;
    for (const auto *p : params)
      if (p->has_value() && (*p)->requires_grad()) return false;
  }
  // parameters in float32 or the input's dtype, as libtorch's ops (and their promotion) take them alike
  for (const auto *p : params)
    if (p->has_value() && (!(*p)->is_cpu() || (*p)->layout() != at::kStrided ||
                           ((*p)->scalar_type() != at::kFloat && (*p)->scalar_type() != x.scalar_type())))
      return false;
  return true;
#else
  (void)x;
  (void)params;
  (void)channels_last_too;
  return false;
#endif
}

// Whether a norm's affine parameter is absent or has exactly these sizes (anything else: libtorch's op names it).
bool shaped(const c10::optional<at::Tensor> &p, at::IntArrayRef sizes) { return !p.has_value() || !p->defined() || p->sizes() == sizes; }

// A norm's affine parameter (of the sizes checked by shaped) as contiguous float32, or an undefined tensor when absent.
at::Tensor float_parameter(const c10::optional<at::Tensor> &p) {
  if (!p.has_value() || !p->defined()) return at::Tensor();
  return p->detach().to(at::kFloat).contiguous();
}

const float *data_or_null(const at::Tensor &t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

bool avx512() { return flash_attention_isa() == FlashIsa::kAvx512; }
}  // namespace

void set_fused_kernels(bool enabled) { fused_enabled.store(enabled); }
bool fused_kernels_enabled() { return fused_enabled.load(); }
int64_t fused_kernel_calls() { return fused_calls.load(std::memory_order_relaxed); }

bool fused_group_norm(const at::Tensor &x, int64_t groups, const c10::optional<at::Tensor> &weight,
                      const c10::optional<at::Tensor> &bias, double eps, bool with_silu, at::Tensor *result) {
  if (!applies(x, {&weight, &bias}) || x.dim() < 2) return false;
  const int64_t n = x.size(0), c = x.size(1);
  // libtorch's own op names these errors
  if (groups <= 0 || c % groups != 0 || !shaped(weight, {c}) || !shaped(bias, {c})) return false;
  const int64_t plane = x.numel() / (n * c), cg = c / groups;
#ifdef PSD_SIMD_LANES
  at::Tensor gamma = float_parameter(weight), beta = float_parameter(bias);
  at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
  const float *g = data_or_null(gamma), *b = data_or_null(beta);
  const bool wide = avx512();
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, cg * plane));
  with_storage(x, y, [&](auto *in, auto *out) {
    at::parallel_for(0, n * groups, grain, [&](int64_t begin, int64_t end) {
      if (wide) group_norm_avx512(in, out, g, b, groups, cg, plane, eps, with_silu, begin, end);
      else group_norm_avx2(in, out, g, b, groups, cg, plane, eps, with_silu, begin, end);
    });
  });
  *result = y;
  fused_calls.fetch_add(1, std::memory_order_relaxed);
  return true;
#else
  return false;
#endif
}

bool fused_layer_norm(const at::Tensor &x, at::IntArrayRef normalized_shape, const c10::optional<at::Tensor> &weight,
                      const c10::optional<at::Tensor> &bias, double eps, at::Tensor *result) {
  if (!applies(x, {&weight, &bias})) return false;
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  if (k == 0 || k > x.dim()) return false;
  for (int64_t i = 0; i < k; i++)
    if (x.size(x.dim() - k + i) != normalized_shape[i]) return false;  // libtorch's own op names the mismatch
  if (!shaped(weight, normalized_shape) || !shaped(bias, normalized_shape)) return false;
  const int64_t d = c10::multiply_integers(normalized_shape);
  const int64_t rows = x.numel() / d;
#ifdef PSD_SIMD_LANES
  at::Tensor gamma = float_parameter(weight), beta = float_parameter(bias);
  at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
  const float *g = data_or_null(gamma), *b = data_or_null(beta);
  const bool wide = avx512();
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / d);
  with_storage(x, y, [&](auto *in, auto *out) {
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
      if (wide) layer_norm_avx512(in, out, g, b, d, eps, begin, end);
      else layer_norm_avx2(in, out, g, b, d, eps, begin, end);
    });
  });
  *result = y;
  fused_calls.fetch_add(1, std::memory_order_relaxed);
  return true;
#else
  return false;
#endif
}

bool fused_scale_shift_silu(const at::Tensor &x, const at::Tensor &scale, const at::Tensor &shift, at::Tensor *result) {
  const c10::optional<at::Tensor> sc = scale, sh = shift;
  if (x.dim() != 4 || !applies(x, {&sc, &sh}, true)) return false;
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // scale and shift per sample and channel, (B, C, 1, 1), or per channel, (1, C, 1, 1)
  auto per_channel = [&](const at::Tensor &t) {
    return t.dim() == 4 && (t.size(0) == b || t.size(0) == 1) && t.size(1) == c && t.size(2) == 1 && t.size(3) == 1;
  };
  if (!per_channel(scale) || !per_channel(shift)) return false;
  const bool channels_last = x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous();
  if (!channels_last && !x.is_contiguous()) return false;
#ifdef PSD_SIMD_LANES
  at::Tensor a = scale.detach().to(at::kFloat).expand({b, c, 1, 1}).contiguous(), s = shift.detach().to(at::kFloat).expand({b, c, 1, 1}).contiguous();
  at::Tensor y = at::empty_like(x, channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
  const float *pa = a.data_ptr<float>(), *ps = s.data_ptr<float>();
  const bool wide = avx512();
  with_storage(x, y, [&](auto *in, auto *out) {
    if (!channels_last) {
      const int64_t plane = h * w, grain = std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, plane));
      at::parallel_for(0, b * c, grain, [&](int64_t begin, int64_t end) {
        if (wide) affine_planes_avx512(in, out, pa, ps, plane, begin, end);
        else affine_planes_avx2(in, out, pa, ps, plane, begin, end);
      });
      return;
    }
    // each sample's pixels hold c values each, in a row; a sample's scale and shift are its c
    for (int64_t n = 0; n < b; n++) {
      const int64_t offset = n * h * w * c, grain = std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, c));
      at::parallel_for(0, h * w, grain, [&](int64_t begin, int64_t end) {
        if (wide) affine_pixels_avx512(in + offset, out + offset, pa + n * c, ps + n * c, c, begin, end);
        else affine_pixels_avx2(in + offset, out + offset, pa + n * c, ps + n * c, c, begin, end);
      });
    }
  });
  *result = y;
  fused_calls.fetch_add(1, std::memory_order_relaxed);
  return true;
#else
  return false;
#endif
}

bool fused_channel_moments(const at::Tensor &x, at::Tensor *result) {
#ifdef PSD_SIMD_LANES
  if (x.dim() != 4) return false;
  // applies() asks for a contiguous input; a band of rows (a narrowed view) is checked by its strides below instead
  if (!fused_enabled.load() || flash_attention_isa() == FlashIsa::kNone || !x.is_cpu() || x.layout() != at::kStrided) return false;
  if ((x.scalar_type() != at::kFloat && x.scalar_type() != at::kBFloat16) || x.numel() == 0) return false;
  if (at::GradMode::is_enabled() && x.requires_grad()) return false;
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // rows of a plane: each (sample, channel)'s h x w values in one run; pixels: each sample's h x w pixels of c values
  const bool runs = x.stride(3) == 1 && x.stride(2) == w;
  const bool pixels = !runs && x.stride(1) == 1 && x.stride(3) == c && x.stride(2) == w * c;
  if (!runs && !pixels) return false;
  at::Tensor out = at::zeros({2, b, c}, x.options().dtype(at::kDouble));
  double *sum = out.data_ptr<double>(), *squares = sum + b * c;
  const bool wide = avx512();
  with_storage(x, [&](auto *base) {
    if (runs) {
      const int64_t n = h * w, grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, n));
      at::parallel_for(0, b * c, grain, [&](int64_t begin, int64_t end) {
        if (wide) moments_runs_avx512(base, n, x.stride(0), x.stride(1), c, sum, squares, begin, end);
        else moments_runs_avx2(base, n, x.stride(0), x.stride(1), c, sum, squares, begin, end);
      });
      return;
    }
    std::mutex merge;
    for (int64_t n = 0; n < b; n++) {
      const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, c));
      at::parallel_for(0, h * w, grain, [&](int64_t begin, int64_t end) {
        std::vector<double> s(c), q(c);  // this range's, added to the sample's under the lock
        if (wide) moments_pixels_avx512(base + n * x.stride(0), c, begin, end, s.data(), q.data());
        else moments_pixels_avx2(base + n * x.stride(0), c, begin, end, s.data(), q.data());
        std::lock_guard<std::mutex> lock(merge);
        for (int64_t i = 0; i < c; i++) {
          sum[n * c + i] += s[i];
          squares[n * c + i] += q[i];
        }
      });
    }
  });
  *result = out;
  fused_calls.fetch_add(1, std::memory_order_relaxed);
  return true;
#else
  (void)x;
  (void)result;
  return false;
#endif
}

bool fused_geglu(const at::Tensor &x, at::Tensor *result) {
  if (!applies(x, {}) || x.dim() < 1 || x.size(-1) % 2 != 0) return false;
  const int64_t n = x.size(-1) / 2, rows = x.numel() / x.size(-1);
#ifdef PSD_SIMD_LANES
  std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end());
  sizes.back() = n;
  at::Tensor y = at::empty(sizes, x.options());
  const bool wide = avx512();
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, n));
  with_storage(x, y, [&](auto *in, auto *out) {
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
      if (wide) geglu_avx512(in, out, n, begin, end);
      else geglu_avx2(in, out, n, begin, end);
    });
  });
  *result = y;
  fused_calls.fetch_add(1, std::memory_order_relaxed);
  return true;
#else
  return false;
#endif
}
}  // namespace psd
