// Fused ("flash") attention for the CPU: softmax(q k^T * scale) v computed by blocks of queries and keys with a
// running row maximum and sum, so no score matrix larger than one block exists, and each block's scores go through
// q k^T, the exponentials and the product with v while they sit in a core's cache. The three inner loops are
// register-tiled SIMD kernels written once over GCC vector types and compiled for AVX-512 and for AVX2 + FMA; the
// CPU's own is chosen at run time from CPUID. A CPU with neither, or inputs with a mask, dropout, a graph to record
// or another dtype than float32, take the math path (nn.cpp). bfloat16 too: the kernels would compute it in float32,
// and on a CPU with avx512_bf16 oneDNN's bfloat16 GEMMs on the math path measured about twice as fast.
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "attention.h"
#include "common.h"

namespace psd {
namespace {
// 64 queries against 256 keys: 64 KiB of scores, the 256 keys' k^T and v (40-160 features) beside them in L2.
constexpr int64_t kQueryBlock = 64;
constexpr int64_t kKeyBlock = 256;
// Keys are padded to a multiple of this (zero k and v rows, masked scores), so every column tile is whole.
constexpr int64_t kKeyPad = 64;
// Query rows are padded to a multiple of this (zero q rows, results dropped).
constexpr int64_t kRowTile = 4;
// The most features per head the kernels take (more go to the math path; see flash_attention_applies).
constexpr int64_t kMaxFeatures = 256;

std::atomic<bool> flash_enabled{true};

FlashIsa detect_isa() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return FlashIsa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return FlashIsa::kAvx2;
#endif
  return FlashIsa::kNone;
}

const FlashIsa kDetected = detect_isa();
// The kernels in use: the CPU's own, or older ones a caller chose (tests of the AVX2 kernel on an AVX-512 CPU).
std::atomic<FlashIsa> active_isa{kDetected};

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define PSD_FLASH_KERNELS 1
#define PSD_INLINE inline __attribute__((always_inline))

// The kernels are inlined into functions compiled for each instruction set; their vector types need no ABI.
#pragma GCC diagnostic ignored "-Wpsabi"

// GCC's vector types of W float lanes (a dependent vector_size is ignored in a template, hence the specialisations).
template <int W>
struct VectorTypes;
template <>
struct VectorTypes<16> {
  typedef float V __attribute__((vector_size(64)));
  typedef int32_t I __attribute__((vector_size(64)));
};
template <>
struct VectorTypes<8> {
  typedef float V __attribute__((vector_size(32)));
  typedef int32_t I __attribute__((vector_size(32)));
};

// W float lanes (16 for AVX-512, 8 for AVX2); unaligned loads and stores go through memcpy, which GCC compiles to
// one vmovups.
template <int W>
struct Lanes {
  using V = typename VectorTypes<W>::V;
  using I = typename VectorTypes<W>::I;
  static PSD_INLINE V load(const float *p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
  }
  static PSD_INLINE void store(float *p, V v) { std::memcpy(p, &v, sizeof(V)); }
  static PSD_INLINE V splat(float x) { return V{} + x; }
  static PSD_INLINE float max(V v) {
    float m = v[0];
    for (int i = 1; i < W; i++) m = std::max(m, v[i]);
    return m;
  }
  static PSD_INLINE float sum(V v) {
    float s = 0;
    for (int i = 0; i < W; i++) s += v[i];
    return s;
  }
  // 2^x for x <= 0.5 (the scores minus their row maximum, in log2 units), 0 below 2^-126: x = n + f with n the
  // nearest integer and |f| <= 1/2, 2^f by its Taylor series to degree 7 (relative error below 1e-8), 2^n put in
  // the exponent bits.
  static PSD_INLINE V exp2(V x) {
    V clamped = x < -126.0f ? splat(-126.0f) : x;
    V y = clamped + 0.5f;
    I n = __builtin_convertvector(y, I);       // truncates towards zero
    n += (y < __builtin_convertvector(n, V));  // floor: -1 where truncation rounded up
    V f = clamped - __builtin_convertvector(n, V);
    V p = splat(1.525273380405984e-05f);
    p = p * f + 1.5403530393381606e-04f;
    p = p * f + 1.3333558146428443e-03f;
    p = p * f + 9.6181291076284772e-03f;
    p = p * f + 5.5504108664821580e-02f;
    p = p * f + 2.4022650695910071e-01f;
    p = p * f + 6.9314718055994531e-01f;
    p = p * f + 1.0f;
    V scale = (V)((n + 127) << 23);
    return x < -126.0f ? V{} : p * scale;
  }
};

// One head's inputs, in float32: q scaled by scale * log2(e) (L x E), k transposed and padded (E x Sp), v padded
// (Sp x Evp), the output (L x Ev).
struct Head {
  const float *q, *kt, *v;
  float *out;
  int64_t L, S, Sp, E, Ev, Evp;
};

// The scores of rows [0, rows) against keys [k0, k0 + cols): s[r][c] = q[r] . kt[:, k0 + c]. R rows x C vectors of
// keys per tile, accumulated over the E features in registers.
template <int W, int R, int C>
PSD_INLINE void scores(const float *q, int64_t E, const float *kt, int64_t Sp, int64_t k0, int64_t rows, int64_t cols, float *s) {
  using L = Lanes<W>;
  using V = typename L::V;
  for (int64_t r0 = 0; r0 < rows; r0 += R) {
    for (int64_t c0 = 0; c0 < cols; c0 += C * W) {
      V acc[R][C];
      for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = V{};
      const float *kcol = kt + k0 + c0;
      for (int64_t e = 0; e < E; e++) {
        V kv[C];
        for (int c = 0; c < C; c++) kv[c] = L::load(kcol + e * Sp + c * W);
        for (int r = 0; r < R; r++) {
          V qb = L::splat(q[(r0 + r) * E + e]);
          for (int c = 0; c < C; c++) acc[r][c] += qb * kv[c];
        }
      }
      for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) L::store(s + (r0 + r) * kKeyBlock + c0 + c * W, acc[r][c]);
    }
  }
}

// out[r][c0, c0 + C W) += sum over j < cols of p[r][j] v[k0 + j][c0, c0 + C W), R rows at a time.
template <int W, int R, int C>
PSD_INLINE void accumulate_columns(const float *p, const float *v, int64_t Evp, int64_t k0, int64_t rows, int64_t cols, int64_t c0,
                                   float *out) {
  using L = Lanes<W>;
  using V = typename L::V;
  for (int64_t r0 = 0; r0 < rows; r0 += R) {
    V acc[R][C];
    for (int r = 0; r < R; r++)
      for (int c = 0; c < C; c++) acc[r][c] = L::load(out + (r0 + r) * Evp + c0 + c * W);
    for (int64_t j = 0; j < cols; j++) {
      V vv[C];
      const float *vrow = v + (k0 + j) * Evp + c0;
      for (int c = 0; c < C; c++) vv[c] = L::load(vrow + c * W);
      for (int r = 0; r < R; r++) {
        V pb = L::splat(p[(r0 + r) * kKeyBlock + j]);
        for (int c = 0; c < C; c++) acc[r][c] += pb * vv[c];
      }
    }
    for (int r = 0; r < R; r++)
      for (int c = 0; c < C; c++) L::store(out + (r0 + r) * Evp + c0 + c * W, acc[r][c]);
  }
}

// out += p v over all Evp / W vectors of the value features, at most 4 vectors per pass.
template <int W, int R>
PSD_INLINE void accumulate(const float *p, const float *v, int64_t Evp, int64_t k0, int64_t rows, int64_t cols, float *out) {
  int64_t c0 = 0;
  for (; c0 + 4 * W <= Evp; c0 += 4 * W) accumulate_columns<W, R, 4>(p, v, Evp, k0, rows, cols, c0, out);
  switch ((Evp - c0) / W) {
    case 3: accumulate_columns<W, R, 3>(p, v, Evp, k0, rows, cols, c0, out); break;
    case 2: accumulate_columns<W, R, 2>(p, v, Evp, k0, rows, cols, c0, out); break;
    case 1: accumulate_columns<W, R, 1>(p, v, Evp, k0, rows, cols, c0, out); break;
    default: break;
  }
}

// One block of queries [q0, q0 + rows) of one head, through all its keys (up to the diagonal when causal).
// Scratch: qb (kQueryBlock x E), s (kQueryBlock x kKeyBlock), acc (kQueryBlock x Evp), running max and sum.
template <int W, int RQ, int CQ, int RV>
PSD_INLINE void query_block(const Head &h, int64_t q0, bool causal, float *qb, float *s, float *acc, float *row_max, float *row_sum) {
  using L = Lanes<W>;
  using V = typename L::V;
  const int64_t rows = std::min(kQueryBlock, h.L - q0);
  const int64_t padded_rows = (rows + kRowTile - 1) / kRowTile * kRowTile;
  std::memcpy(qb, h.q + q0 * h.E, sizeof(float) * rows * h.E);
  std::memset(qb + rows * h.E, 0, sizeof(float) * (padded_rows - rows) * h.E);
  std::memset(acc, 0, sizeof(float) * padded_rows * h.Evp);
  std::fill(row_max, row_max + padded_rows, -std::numeric_limits<float>::infinity());
  std::fill(row_sum, row_sum + padded_rows, 0.0f);
  // causal: query i sees keys j <= i; the last row of the block sees up to key q0 + rows - 1
  const int64_t key_end = causal ? std::min(h.S, q0 + rows) : h.S;
  for (int64_t k0 = 0; k0 < key_end; k0 += kKeyBlock) {
    const int64_t valid = std::min(kKeyBlock, key_end - k0);
    const int64_t cols = (valid + kKeyPad - 1) / kKeyPad * kKeyPad;  // <= Sp - k0: Sp is S rounded up to kKeyPad
    scores<W, RQ, CQ>(qb, h.E, h.kt, h.Sp, k0, padded_rows, cols, s);
    for (int64_t r = 0; r < padded_rows; r++) {
      float *sr = s + r * kKeyBlock;
      // keys past the end (padding) and, when causal, past this query's position, score -inf
      const int64_t visible = causal ? std::min<int64_t>(valid, q0 + r + 1 - k0) : valid;
      for (int64_t c = std::max<int64_t>(visible, 0); c < cols; c++) sr[c] = -std::numeric_limits<float>::infinity();
      V vmax = L::splat(-std::numeric_limits<float>::infinity());
      for (int64_t c = 0; c < cols; c += W) vmax = vmax > L::load(sr + c) ? vmax : L::load(sr + c);
      const float block_max = L::max(vmax);
      const float next = std::max(row_max[r], block_max);
      if (next == -std::numeric_limits<float>::infinity()) {  // nothing visible yet in this row
        std::memset(sr, 0, sizeof(float) * cols);
        continue;
      }
      const float correction = std::exp2(row_max[r] - next);  // 0 for the first block (exp2(-inf))
      row_max[r] = next;
      V vsum = V{};
      const V shift = L::splat(next);
      for (int64_t c = 0; c < cols; c += W) {
        V e = L::exp2(L::load(sr + c) - shift);
        L::store(sr + c, e);
        vsum += e;
      }
      row_sum[r] = row_sum[r] * correction + L::sum(vsum);
      if (correction != 1.0f) {
        float *ar = acc + r * h.Evp;
        const V cv = L::splat(correction);
        for (int64_t c = 0; c < h.Evp; c += W) L::store(ar + c, L::load(ar + c) * cv);
      }
    }
    accumulate<W, RV>(s, h.v, h.Evp, k0, padded_rows, cols, acc);
  }
  for (int64_t r = 0; r < rows; r++) {
    const float inverse = 1.0f / row_sum[r];
    float *o = h.out + (q0 + r) * h.Ev;
    const float *a = acc + r * h.Evp;
    for (int64_t c = 0; c < h.Ev; c++) o[c] = a[c] * inverse;
  }
}

// Work items [begin, end) of the call (item = head x query block), on one thread with its own scratch.
template <int W, int RQ, int CQ, int RV>
PSD_INLINE void run_items(const std::vector<Head> &heads, bool causal, int64_t begin, int64_t end) {
  const int64_t L = heads.front().L, E = heads.front().E, Evp = heads.front().Evp;
  const int64_t query_blocks = (L + kQueryBlock - 1) / kQueryBlock;
  std::vector<float> qb(kQueryBlock * E), s(kQueryBlock * kKeyBlock), acc(kQueryBlock * Evp), row_max(kQueryBlock), row_sum(kQueryBlock);
  for (int64_t index = begin; index < end; index++)
    query_block<W, RQ, CQ, RV>(heads[index / query_blocks], (index % query_blocks) * kQueryBlock, causal, qb.data(), s.data(), acc.data(),
                               row_max.data(), row_sum.data());
}

// AVX-512: 32 vector registers; scores in 4 x 4 tiles (16 accumulators), p v in 4 rows x up to 4 vectors.
__attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma"))) void run_items_avx512(const std::vector<Head> &heads, bool causal,
                                                                                             int64_t begin, int64_t end) {
  run_items<16, 4, 4, 4>(heads, causal, begin, end);
}

// AVX2: 16 vector registers; scores in 4 x 2 tiles, p v in 2 rows x up to 4 vectors.
__attribute__((target("avx2,fma"))) void run_items_avx2(const std::vector<Head> &heads, bool causal, int64_t begin, int64_t end) {
  run_items<8, 4, 2, 2>(heads, causal, begin, end);
}

// Every (head, query block) of the call, spread over libtorch's intra-op threads. The lambda is compiled for the
// default target, so it only calls the functions compiled for the CPU's.
void run_heads(const std::vector<Head> &heads, bool causal, FlashIsa isa) {
  const int64_t query_blocks = (heads.front().L + kQueryBlock - 1) / kQueryBlock;
  at::parallel_for(0, static_cast<int64_t>(heads.size()) * query_blocks, 1, [&](int64_t begin, int64_t end) {
    if (isa == FlashIsa::kAvx512)
      run_items_avx512(heads, causal, begin, end);
    else
      run_items_avx2(heads, causal, begin, end);
  });
}
#endif
}  // namespace

FlashIsa flash_attention_isa() { return active_isa.load(); }

void set_flash_attention_isa(FlashIsa isa) {
  if (static_cast<int32_t>(isa) < 0 || static_cast<int32_t>(isa) > static_cast<int32_t>(kDetected))
    throw ArgumentError("flash attention kernels " + std::to_string(static_cast<int32_t>(isa)) + " requested; this CPU has up to " +
                        std::to_string(static_cast<int32_t>(kDetected)) + " (0 none, 1 AVX2 + FMA, 2 AVX-512)");
  active_isa.store(isa);
}
void set_flash_attention(bool enabled) { flash_enabled.store(enabled); }
bool flash_attention_enabled() { return flash_enabled.load(); }

bool flash_attention_applies(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, bool has_mask, double dropout_p) {
  if (active_isa.load() == FlashIsa::kNone || !flash_enabled.load() || has_mask || dropout_p > 0) return false;
  // At the VAE's one head of 512 features the math path's BLAS GEMMs beat the kernels' q k^T tiles (bench-attention
  // on a quiet Zen 5: 0.76x with AVX-512's, 0.57x with AVX2's; at SD's 40-160 features they win).
  if (q.size(-1) > kMaxFeatures) return false;
  for (const at::Tensor *t : {&q, &k, &v})
    if (!t->is_cpu() || t->scalar_type() != at::kFloat || t->dim() < 2) return false;
  if (at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad())) return false;
  if (q.dim() != k.dim() || k.dim() != v.dim()) return false;
  // leading (batch, head) dims equal: the caller's broadcast cases take the math path
  for (int64_t d = 0; d < q.dim() - 2; d++)
    if (q.size(d) != k.size(d) || k.size(d) != v.size(d)) return false;
  // empty queries, keys or features take the math path, which defines them
  return q.size(-1) == k.size(-1) && k.size(-2) == v.size(-2) && k.size(-2) > 0 && q.size(-2) > 0 && q.size(-1) > 0 && v.size(-1) > 0 &&
         q.numel() > 0;
}

at::Tensor flash_attention(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value, double scale, bool is_causal) {
#ifdef PSD_FLASH_KERNELS
  const int64_t L = query.size(-2), S = key.size(-2), E = query.size(-1), Ev = value.size(-1);
  const int64_t count = query.numel() / (L * E);
  const FlashIsa isa = active_isa.load();
  if (isa == FlashIsa::kNone) throw std::logic_error("flash attention has no kernel for this CPU");
  const int W = isa == FlashIsa::kAvx512 ? 16 : 8;
  const int64_t Sp = (S + kKeyPad - 1) / kKeyPad * kKeyPad, Evp = (Ev + W - 1) / W * W;
  const auto f32 = query.options().dtype(at::kFloat);
  // exp(x) = 2^(x log2 e): the scale and log2(e) go into q once, the kernel's exponentials are powers of two
  at::Tensor q = (query.reshape({count, L, E}).to(at::kFloat) * (scale * M_LOG2E)).contiguous();
  at::Tensor kt = at::zeros({count, E, Sp}, f32);
  kt.narrow(2, 0, S).copy_(key.reshape({count, S, E}).transpose(1, 2));
  at::Tensor v = at::zeros({count, Sp, Evp}, f32);
  v.narrow(1, 0, S).narrow(2, 0, Ev).copy_(value.reshape({count, S, Ev}));
  at::Tensor out = at::empty({count, L, Ev}, f32);
  std::vector<Head> heads(count);
  for (int64_t i = 0; i < count; i++)
    heads[i] = Head{q.data_ptr<float>() + i * L * E, kt.data_ptr<float>() + i * E * Sp, v.data_ptr<float>() + i * Sp * Evp,
                    out.data_ptr<float>() + i * L * Ev, L, S, Sp, E, Ev, Evp};
  run_heads(heads, is_causal, isa);
  std::vector<int64_t> out_shape(query.sizes().begin(), query.sizes().end());
  out_shape.back() = Ev;
  return out.to(query.scalar_type()).view(out_shape);
#else
  throw std::logic_error("flash attention has no kernel for this CPU");
#endif
}

}  // namespace psd
