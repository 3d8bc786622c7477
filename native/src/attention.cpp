// Fused ("flash") attention for the CPU: softmax(q k^T * scale) v computed by blocks of queries and keys with a
// running row maximum and sum, so no score matrix larger than one block exists, and each block's scores go through
// q k^T, the exponentials and the product with v while they sit in a core's cache. The float32 inner loops are
// register-tiled SIMD kernels written once over GCC vector types and compiled for AVX-512 and for AVX2 + FMA; the
// CPU's own is chosen at run time from CPUID. bfloat16 has kernels of its own for AVX512_BF16 (vdpbf16ps); without
// it bfloat16 takes the math path, as do a CPU with neither instruction set and inputs with a mask, dropout or a
// graph to record (nn.cpp). Where both paths apply, which one runs is timed per shape (timed_attention).
#include <ATen/Parallel.h>
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <vector>

#include "attention.h"
#include "common.h"
#include "simd_lanes.h"

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

// The CPU's kernels, capped where ATEN_CPU_CAPABILITY caps libtorch's own ("avx2": no AVX-512, "default": no
// vector kernels), so that one variable makes an AVX-512 machine run as an AVX2-only one would.
FlashIsa detect_isa() {
  FlashIsa cpu = FlashIsa::kNone;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  // the AVX-512 kernels are compiled for F, DQ, VL and BW (every AVX-512 server core since Skylake; not Knights Landing)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw"))
    cpu = FlashIsa::kAvx512;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    cpu = FlashIsa::kAvx2;
#endif
  const char *cap = std::getenv("ATEN_CPU_CAPABILITY");
  if (cap != nullptr && std::strcmp(cap, "avx2") == 0) return std::min(cpu, FlashIsa::kAvx2);
  if (cap != nullptr && std::strcmp(cap, "default") == 0) return FlashIsa::kNone;
  return cpu;
}

const FlashIsa kDetected = detect_isa();

// AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16): CPUID leaf 7, sub-leaf 1, EAX bit 5; only with the AVX-512 kernels.
bool detect_bf16() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return kDetected == FlashIsa::kAvx512 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax & (1u << 5)) != 0;
#else
  return false;
#endif
}

const bool kBf16Detected = detect_bf16();
// The kernels in use: the CPU's own, or older ones a caller chose (tests of the AVX2 kernel on an AVX-512 CPU).
std::atomic<FlashIsa> active_isa{kDetected};

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define PSD_FLASH_KERNELS 1

// One head's inputs, in float32: q scaled by scale * log2(e) (L x E), k transposed by blocks of kKeyBlock keys (blocks x E x kKeyBlock), v padded
// (Sp x Evp), the output (L x Ev).
struct Head {
  const float *q, *kt, *v;
  float *out;
  int64_t L, S, Sp, E, Ev, Evp;
};

// The scores of rows [0, rows) against keys [k0, k0 + cols): s[r][c] = q[r] . kt[:, k0 + c], kt's E rows `stride`
// floats apart. R rows x C vectors of keys per tile, accumulated over the E features in registers.
template <int W, int R, int C>
PSD_INLINE void scores(const float *q, int64_t E, const float *kt, int64_t stride, int64_t k0, int64_t rows, int64_t cols, float *s) {
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
        for (int c = 0; c < C; c++) kv[c] = L::load(kcol + e * stride + c * W);
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

// How many of the `left` value vectors the next p v pass takes, at most `widest`: never a last pass of one vector
// (it would do one multiply-add per broadcast of p), so widest + 1 splits in two.
inline int pass_width(int64_t left, int widest) {
  return left == widest + 1 ? static_cast<int>((left + 1) / 2) : static_cast<int>(std::min<int64_t>(left, widest));
}

// out += p v over all Evp / W vectors of the value features: passes of at most 5 vectors with AVX-512's 32
// registers (R = 4 rows: 20 accumulators), 4 with AVX2's 16 (R = 2), so SD's head widths 40, 64, 80 and 160 take
// whole passes.
template <int W, int R>
PSD_INLINE void accumulate(const float *p, const float *v, int64_t Evp, int64_t k0, int64_t rows, int64_t cols, float *out) {
  constexpr int kWidest = W == 16 ? 5 : 4;
  for (int64_t c0 = 0; c0 < Evp;) {
    const int width = pass_width((Evp - c0) / W, kWidest);
    switch (width) {
      case 5: accumulate_columns<W, R, W == 16 ? 5 : 4>(p, v, Evp, k0, rows, cols, c0, out); break;
      case 4: accumulate_columns<W, R, 4>(p, v, Evp, k0, rows, cols, c0, out); break;
      case 3: accumulate_columns<W, R, 3>(p, v, Evp, k0, rows, cols, c0, out); break;
      case 2: accumulate_columns<W, R, 2>(p, v, Evp, k0, rows, cols, c0, out); break;
      default: accumulate_columns<W, R, 1>(p, v, Evp, k0, rows, cols, c0, out); break;
    }
    c0 += static_cast<int64_t>(W) * width;
  }
}

// The start of a query block: its `rows` rows of q (width values each) copied to qb, zero rows after them up to a
// whole row tile, the accumulators zeroed, running maxima -inf and sums 0. Returns the rows with the padding.
template <typename T>
inline int64_t start_query_block(const T *q, int64_t width, int64_t rows, T *qb, float *acc, int64_t Evp, float *row_max, float *row_sum) {
  const int64_t padded_rows = (rows + kRowTile - 1) / kRowTile * kRowTile;
  std::memcpy(qb, q, sizeof(T) * rows * width);
  std::memset(qb + rows * width, 0, sizeof(T) * (padded_rows - rows) * width);
  std::memset(acc, 0, sizeof(float) * padded_rows * Evp);
  std::fill(row_max, row_max + padded_rows, -std::numeric_limits<float>::infinity());
  std::fill(row_sum, row_sum + padded_rows, 0.0f);
  return padded_rows;
}

// One block of queries [q0, q0 + rows) of one head, through all its keys (up to the diagonal when causal).
// Scratch: qb (kQueryBlock x E), s (kQueryBlock x kKeyBlock), acc (kQueryBlock x Evp), running max and sum.
template <int W, int RQ, int CQ, int RV>
PSD_INLINE void query_block(const Head &h, int64_t q0, bool causal, float *qb, float *s, float *acc, float *row_max, float *row_sum) {
  using L = Lanes<W>;
  using V = typename L::V;
  const int64_t rows = std::min(kQueryBlock, h.L - q0);
  const int64_t padded_rows = start_query_block(h.q + q0 * h.E, h.E, rows, qb, acc, h.Evp, row_max, row_sum);
  // causal: query i sees keys j <= i; the last row of the block sees up to key q0 + rows - 1
  const int64_t key_end = causal ? std::min(h.S, q0 + rows) : h.S;
  for (int64_t k0 = 0; k0 < key_end; k0 += kKeyBlock) {
    const int64_t valid = std::min(kKeyBlock, key_end - k0);
    const int64_t cols = (valid + kKeyPad - 1) / kKeyPad * kKeyPad;  // <= Sp - k0: Sp is S rounded up to kKeyPad
    scores<W, RQ, CQ>(qb, h.E, h.kt + (k0 / kKeyBlock) * h.E * kKeyBlock, kKeyBlock, 0, padded_rows, cols, s);
    for (int64_t r = 0; r < padded_rows; r++) {
      float *sr = s + r * kKeyBlock;
      // keys past the end (padding) and, when causal, past this query's position, score -inf
      const int64_t visible = causal ? std::min<int64_t>(valid, q0 + r + 1 - k0) : valid;
      for (int64_t c = std::max<int64_t>(visible, 0); c < cols; c++) sr[c] = -std::numeric_limits<float>::infinity();
      // two running maxima and sums (cols is a multiple of 64, so of 2 W): shorter dependency chains
      V max0 = L::load(sr), max1 = L::load(sr + W);
      for (int64_t c = 2 * W; c < cols; c += 2 * W) {
        V a = L::load(sr + c), b = L::load(sr + c + W);
        max0 = max0 > a ? max0 : a;
        max1 = max1 > b ? max1 : b;
      }
      const float block_max = L::max(max0 > max1 ? max0 : max1);
      const float next = std::max(row_max[r], block_max);
      if (next == -std::numeric_limits<float>::infinity()) {  // nothing visible yet in this row
        std::memset(sr, 0, sizeof(float) * cols);
        continue;
      }
      const float correction = std::exp2(row_max[r] - next);  // 0 for the first block (exp2(-inf))
      row_max[r] = next;
      V sum0 = V{}, sum1 = V{};
      const V shift = L::splat(next);
      for (int64_t c = 0; c < cols; c += 2 * W) {
        V a = L::exp2(L::load(sr + c) - shift), b = L::exp2(L::load(sr + c + W) - shift);
        L::store(sr + c, a);
        L::store(sr + c + W, b);
        sum0 += a;
        sum1 += b;
      }
      row_sum[r] = row_sum[r] * correction + L::sum(sum0 + sum1);
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

// bfloat16 inputs on a CPU with AVX512_BF16: the two products in vdpbf16ps, which multiplies pairs of bfloat16 and
// adds both products to a float32 lane, so each instruction does twice the multiply-adds of a float32 FMA and
// reads half the bytes. Scores, exponentials, running maximum and sum stay float32 as in the kernels above; the
// weights p are rounded to bfloat16 for p v (as the math path's bfloat16 softmax output is). The operands are laid
// out in pairs along the summed dimension: q by feature pairs, k^T as (feature pair, key, 2), v as (key pair,
// feature, 2), so one 32-bit broadcast of q (or p) meets 16 pairs of k (or v) in one vector.
struct Head16 {
  const uint32_t *q;   // L x P: q's features in pairs, scaled by scale * log2(e)
  const uint32_t *kt;  // blocks x P x kKeyBlock: for feature pair e and key b kKeyBlock + c, (k[.][2e], k[.][2e + 1])
  const uint32_t *v;   // Sp / 2 x Evp: for key pair j and feature f, (v[2j][f], v[2j + 1][f])
  float *out;          // L x Ev
  int64_t L, S, Sp, P, Ev, Evp;
};

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx512bw,avx512bf16,avx2,fma")
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() as the unused merge source of their masked builtins,
// which -Wmaybe-uninitialized reports at every use (a false positive of the headers, not of this code)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

// 2^x for the weights that are rounded to bfloat16 (8 significant bits): x = n + f, n the nearest integer, 2^f by
// its Taylor series to degree 5 (relative error below 3e-6), 2^n by vscalefps, which gives 0 below 2^-149 (x is
// clamped at -150 first, so -inf, a masked key, is 0 too; vmaxps returns its second operand where either is NaN,
// so a NaN score stays NaN, as on the math path).
inline __m512 exp2_bf16(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-150.0f), x);
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(1.3333558146428443e-03f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-03f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-02f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-01f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-01f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// s[r][c] = q[r] . k[k0 + c] over the P feature pairs (kt's rows `stride` words apart), R rows x C vectors of 16
// keys per tile.
template <int R, int C>
inline void scores_bf16(const uint32_t *q, int64_t P, const uint32_t *kt, int64_t stride, int64_t k0, int64_t rows, int64_t cols, float *s) {
  // columns outer: one tile's k^T (P x 16 C words) stays in L1 while every row group of the block meets it
  for (int64_t c0 = 0; c0 < cols; c0 += C * 16) {
    for (int64_t r0 = 0; r0 < rows; r0 += R) {
      __m512 acc[R][C];
      for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
      const uint32_t *kcol = kt + k0 + c0;
      for (int64_t e = 0; e < P; e++) {
        __m512bh kv[C];
        for (int c = 0; c < C; c++) kv[c] = (__m512bh)_mm512_loadu_si512(kcol + e * stride + c * 16);
        for (int r = 0; r < R; r++) {
          const __m512bh qb = (__m512bh)_mm512_set1_epi32(static_cast<int>(q[(r0 + r) * P + e]));
          for (int c = 0; c < C; c++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], qb, kv[c]);
        }
      }
      for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) _mm512_storeu_ps(s + (r0 + r) * kKeyBlock + c0 + c * 16, acc[r][c]);
    }
  }
}

// out[r][c0, c0 + 16 C) += sum over key pairs j < cols / 2 of p[r][2j, 2j + 1] . v[k0 / 2 + j][c0, c0 + 16 C).
template <int R, int C>
inline void accumulate_columns_bf16(const uint32_t *p, const uint32_t *v, int64_t Evp, int64_t k0, int64_t rows, int64_t cols, int64_t c0,
                                    float *out) {
  for (int64_t r0 = 0; r0 < rows; r0 += R) {
    __m512 acc[R][C];
    for (int r = 0; r < R; r++)
      for (int c = 0; c < C; c++) acc[r][c] = _mm512_loadu_ps(out + (r0 + r) * Evp + c0 + c * 16);
    for (int64_t j = 0; j < cols / 2; j++) {
      __m512bh vv[C];
      const uint32_t *vrow = v + (k0 / 2 + j) * Evp + c0;
      for (int c = 0; c < C; c++) vv[c] = (__m512bh)_mm512_loadu_si512(vrow + c * 16);
      for (int r = 0; r < R; r++) {
        const __m512bh pb = (__m512bh)_mm512_set1_epi32(static_cast<int>(p[(r0 + r) * (kKeyBlock / 2) + j]));
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], pb, vv[c]);
      }
    }
    for (int r = 0; r < R; r++)
      for (int c = 0; c < C; c++) _mm512_storeu_ps(out + (r0 + r) * Evp + c0 + c * 16, acc[r][c]);
  }
}

// out += p v over the Evp / 16 vectors of value features, in passes of at most 5 (4 rows x 5 = 20 accumulators):
// SD's head widths 40, 64, 80 and 160 take whole passes of 3, 4, 5 and 5 + 5, none of a single vector.
template <int R>
inline void accumulate_bf16(const uint32_t *p, const uint32_t *v, int64_t Evp, int64_t k0, int64_t rows, int64_t cols, float *out) {
  for (int64_t c0 = 0; c0 < Evp;) {
    const int width = pass_width((Evp - c0) / 16, 5);
    switch (width) {
      case 5: accumulate_columns_bf16<R, 5>(p, v, Evp, k0, rows, cols, c0, out); break;
      case 4: accumulate_columns_bf16<R, 4>(p, v, Evp, k0, rows, cols, c0, out); break;
      case 3: accumulate_columns_bf16<R, 3>(p, v, Evp, k0, rows, cols, c0, out); break;
      case 2: accumulate_columns_bf16<R, 2>(p, v, Evp, k0, rows, cols, c0, out); break;
      default: accumulate_columns_bf16<R, 1>(p, v, Evp, k0, rows, cols, c0, out); break;
    }
    c0 += 16 * width;
  }
}

// As query_block, over pairs: qb (kQueryBlock x P words), s (float scores), pb (kQueryBlock x kKeyBlock / 2 words).
void query_block_bf16(const Head16 &h, int64_t q0, bool causal, uint32_t *qb, float *s, uint32_t *pb, float *acc, float *row_max, float *row_sum) {
  using L = Lanes<16>;
  using V = L::V;
  const int64_t rows = std::min(kQueryBlock, h.L - q0);
  const int64_t padded_rows = start_query_block(h.q + q0 * h.P, h.P, rows, qb, acc, h.Evp, row_max, row_sum);
  const int64_t key_end = causal ? std::min(h.S, q0 + rows) : h.S;
  for (int64_t k0 = 0; k0 < key_end; k0 += kKeyBlock) {
    const int64_t valid = std::min(kKeyBlock, key_end - k0);
    const int64_t cols = (valid + kKeyPad - 1) / kKeyPad * kKeyPad;
    scores_bf16<4, 4>(qb, h.P, h.kt + (k0 / kKeyBlock) * h.P * kKeyBlock, kKeyBlock, 0, padded_rows, cols, s);
    for (int64_t r = 0; r < padded_rows; r++) {
      float *sr = s + r * kKeyBlock;
      uint32_t *pr = pb + r * (kKeyBlock / 2);
      const int64_t visible = causal ? std::min<int64_t>(valid, q0 + r + 1 - k0) : valid;
      for (int64_t c = std::max<int64_t>(visible, 0); c < cols; c++) sr[c] = -std::numeric_limits<float>::infinity();
      // two running maxima and sums (cols is a multiple of 64), reduced by shuffles: short dependency chains
      __m512 max0 = _mm512_loadu_ps(sr), max1 = _mm512_loadu_ps(sr + 16);
      for (int64_t c = 32; c < cols; c += 32) {
        max0 = _mm512_max_ps(max0, _mm512_loadu_ps(sr + c));
        max1 = _mm512_max_ps(max1, _mm512_loadu_ps(sr + c + 16));
      }
      const float next = std::max(row_max[r], L::max((V)_mm512_max_ps(max0, max1)));
      if (next == -std::numeric_limits<float>::infinity()) {  // nothing visible yet in this row
        std::memset(pr, 0, sizeof(uint32_t) * cols / 2);
        continue;
      }
      const float correction = std::exp2(row_max[r] - next);
      row_max[r] = next;
      __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
      const __m512 shift = _mm512_set1_ps(next);
      for (int64_t c = 0; c < cols; c += 32) {
        const __m512 lo = exp2_bf16(_mm512_sub_ps(_mm512_loadu_ps(sr + c), shift));
        const __m512 hi = exp2_bf16(_mm512_sub_ps(_mm512_loadu_ps(sr + c + 16), shift));
        sum0 = _mm512_add_ps(sum0, lo);
        sum1 = _mm512_add_ps(sum1, hi);
        // 32 weights in key order, rounded to nearest even: word j holds keys 2j and 2j + 1
        _mm512_storeu_si512(pr + c / 2, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
      }
      row_sum[r] = row_sum[r] * correction + L::sum((V)_mm512_add_ps(sum0, sum1));
      if (correction != 1.0f) {
        float *ar = acc + r * h.Evp;
        const V cv = L::splat(correction);
        for (int64_t c = 0; c < h.Evp; c += 16) L::store(ar + c, L::load(ar + c) * cv);
      }
    }
    accumulate_bf16<4>(pb, h.v, h.Evp, k0, padded_rows, cols, acc);
  }
  for (int64_t r = 0; r < rows; r++) {
    const float inverse = 1.0f / row_sum[r];
    float *o = h.out + (q0 + r) * h.Ev;
    const float *a = acc + r * h.Evp;
    for (int64_t c = 0; c < h.Ev; c++) o[c] = a[c] * inverse;
  }
}

void run_items_bf16(const std::vector<Head16> &heads, bool causal, int64_t begin, int64_t end) {
  const int64_t L = heads.front().L, P = heads.front().P, Evp = heads.front().Evp;
  const int64_t query_blocks = (L + kQueryBlock - 1) / kQueryBlock;
  std::vector<uint32_t> qb(kQueryBlock * P), pb(kQueryBlock * kKeyBlock / 2);
  std::vector<float> s(kQueryBlock * kKeyBlock), acc(kQueryBlock * Evp), row_max(kQueryBlock), row_sum(kQueryBlock);
  for (int64_t index = begin; index < end; index++)
    query_block_bf16(heads[index / query_blocks], (index % query_blocks) * kQueryBlock, causal, qb.data(), s.data(), pb.data(), acc.data(),
                     row_max.data(), row_sum.data());
}
#pragma GCC diagnostic pop
#pragma GCC pop_options

void run_heads_bf16(const std::vector<Head16> &heads, bool causal) {
  const int64_t query_blocks = (heads.front().L + kQueryBlock - 1) / kQueryBlock;
  at::parallel_for(0, static_cast<int64_t>(heads.size()) * query_blocks, 1,
                   [&](int64_t begin, int64_t end) { run_items_bf16(heads, causal, begin, end); });
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
bool bf16_kernels_active() { return kBf16Detected && active_isa.load() == FlashIsa::kAvx512; }
FlashIsa flash_attention_isa_detected() { return kDetected; }

void set_flash_attention_isa(FlashIsa isa) {
  if (static_cast<int32_t>(isa) < 0 || static_cast<int32_t>(isa) > static_cast<int32_t>(kDetected))
    throw ArgumentError("flash attention kernels " + std::to_string(static_cast<int32_t>(isa)) + " requested; this CPU has up to " +
                        std::to_string(static_cast<int32_t>(kDetected)) + " (0 none, 1 AVX2 + FMA, 2 AVX-512)");
  active_isa.store(isa);
}
void set_flash_attention(bool enabled) { set_attention_choice(enabled ? AttentionChoice::kFlash : AttentionChoice::kMath); }
bool flash_attention_enabled() { return flash_enabled.load(); }

namespace {
std::atomic<AttentionChoice> choice{AttentionChoice::kTimed};
std::mutex timings_mutex;
// shape key -> the kernels won
std::map<std::vector<int64_t>, bool> timings;
// its size and how many chose the kernels, read on every models' attention call (AttentionChoices) without the lock
std::atomic<int64_t> timed_shapes{0}, timed_flash{0};

// Puts a choice on record unless the shape has one (timings_mutex held); the choice on record.
bool record_locked(std::vector<int64_t> key, bool flash) {
  auto [entry, inserted] = timings.emplace(std::move(key), flash);
  if (inserted) {
    timed_shapes.fetch_add(1);
    if (flash) timed_flash.fetch_add(1);
  }
  return entry->second;
}

double seconds_of(const std::function<at::Tensor()> &call, at::Tensor &result) {
  auto start = std::chrono::steady_clock::now();
  result = call();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

void set_attention_choice(AttentionChoice c) {
  if (static_cast<int32_t>(c) < 0 || static_cast<int32_t>(c) > 2)
    throw ArgumentError("attention choice " + std::to_string(static_cast<int32_t>(c)) + " (0 math, 1 flash, 2 timed)");
  choice.store(c);
  flash_enabled.store(c != AttentionChoice::kMath);
}
AttentionChoice attention_choice() { return choice.load(); }

at::Tensor timed_attention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, double scale, bool is_causal,
                           const std::function<at::Tensor()> &math) {
  // what the speed of either path depends on: dtype, heads, queries, keys, features, causal, threads, kernels
  const std::vector<int64_t> key{static_cast<int64_t>(q.scalar_type()), q.numel() / (q.size(-2) * q.size(-1)), q.size(-2), k.size(-2), q.size(-1),
                                 v.size(-1), is_causal ? 1 : 0, at::get_num_threads(), static_cast<int64_t>(active_isa.load())};
  static_assert(kAttentionRow == 10, "a row is the 9 values of the key and the winner");
  std::function<at::Tensor()> flash = [&] { return flash_attention(q, k, v, scale, is_causal); };
  int known = -1;  // -1 unknown, else whether the kernels won; looked up under the lock, computed outside it
  {
    std::lock_guard<std::mutex> lock(timings_mutex);
    auto found = timings.find(key);
    if (found != timings.end()) known = found->second ? 1 : 0;
  }
  if (known >= 0) return known == 1 ? flash() : math();
  // flash, math, math, flash: a drift of the machine's speed during the four calls favours neither
  at::Tensor flash_result, math_result;
  double flash_seconds = seconds_of(flash, flash_result), math_seconds = seconds_of(math, math_result);
  math_seconds += seconds_of(math, math_result);
  flash_seconds += seconds_of(flash, flash_result);
  std::lock_guard<std::mutex> lock(timings_mutex);
  // the path on record (another thread may have timed the shape meanwhile) gives this call's result too, so every
  // call of a shape in this process returns the same path's values
  const bool flash_wins = record_locked(key, flash_seconds < math_seconds);
  return flash_wins ? flash_result : math_result;
}

int64_t attention_choices(int64_t *rows, int64_t capacity) {
  std::lock_guard<std::mutex> lock(timings_mutex);
  int64_t i = 0;
  for (const auto &t : timings) {
    if (i >= capacity) break;
    std::copy(t.first.begin(), t.first.end(), rows + i * kAttentionRow);
    rows[i * kAttentionRow + kAttentionRow - 1] = t.second ? 1 : 0;
    i++;
  }
  return static_cast<int64_t>(timings.size());
}

void put_attention_choices(const int64_t *rows, int64_t count) {
  // every row checked before any is put on record: a refused call changes nothing
  for (int64_t i = 0; i < count; i++) {
    const int64_t winner = rows[i * kAttentionRow + kAttentionRow - 1];
    if (winner != 0 && winner != 1)
      throw ArgumentError("attention choice row " + std::to_string(i) + ": the winner is " + std::to_string(winner) + ", not 0 (math) or 1 (flash)");
  }
  std::lock_guard<std::mutex> lock(timings_mutex);
  for (int64_t i = 0; i < count; i++) {
    const int64_t *row = rows + i * kAttentionRow;
    record_locked(std::vector<int64_t>(row, row + kAttentionRow - 1), row[kAttentionRow - 1] == 1);
  }
}

void clear_attention_choices() {
  std::lock_guard<std::mutex> lock(timings_mutex);
  timings.clear();
  timed_shapes.store(0);
  timed_flash.store(0);
}

void attention_timings(int64_t *shapes, int64_t *flash) {
  *shapes = timed_shapes.load();
  *flash = timed_flash.load();
}

bool flash_attention_applies(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, bool has_mask, double dropout_p) {
  if (active_isa.load() == FlashIsa::kNone || !flash_enabled.load() || has_mask || dropout_p > 0) return false;
  // At the VAE's one head of 512 features the math path's BLAS GEMMs beat the kernels' q k^T tiles (bench-attention
  // on a quiet Zen 5: 0.76x with AVX-512's, 0.57x with AVX2's; at SD's 40-160 features they win).
  if (q.size(-1) > kMaxFeatures) return false;
  // float32 in any kernels; bfloat16 in the AVX512_BF16 ones (elsewhere the math path's oneDNN GEMMs beat
  // computing it in float32: 0.39-0.54x with the float32 kernels, bench-attention)
  const bool bf16 = q.scalar_type() == at::kBFloat16 && bf16_kernels_active();
  for (const at::Tensor *t : {&q, &k, &v})
    if (!t->is_cpu() || t->scalar_type() != (bf16 ? at::kBFloat16 : at::kFloat) || t->dim() < 2) return false;
  if (at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad())) return false;
  if (q.dim() != k.dim() || k.dim() != v.dim()) return false;
  // leading (batch, head) dims equal: the caller's broadcast cases take the math path
  for (int64_t d = 0; d < q.dim() - 2; d++)
    if (q.size(d) != k.size(d) || k.size(d) != v.size(d)) return false;
  // empty queries, keys or features take the math path, which defines them
  return q.size(-1) == k.size(-1) && k.size(-2) == v.size(-2) && k.size(-2) > 0 && q.size(-2) > 0 && q.size(-1) > 0 && v.size(-1) > 0 &&
         q.numel() > 0;
}

#ifdef PSD_FLASH_KERNELS
namespace {
// bfloat16 q, k, v laid out in pairs (Head16) for the AVX512_BF16 kernels; the result in float32, then bfloat16.
at::Tensor flash_attention_bf16(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value, double scale, bool is_causal) {
  const int64_t L = query.size(-2), S = key.size(-2), E = query.size(-1), Ev = value.size(-1);
  const int64_t count = query.numel() / (L * E);
  const int64_t Sp = (S + kKeyPad - 1) / kKeyPad * kKeyPad, P = (E + 1) / 2, Evp = (Ev + 15) / 16 * 16;
  const auto bf = query.options().dtype(at::kBFloat16);
  // the scale and log2(e) go into q in float32, rounded to bfloat16 once (the math path rounds q * scale too)
  at::Tensor q = at::zeros({count, L, 2 * P}, bf);
  q.narrow(2, 0, E).copy_(query.reshape({count, L, E}).to(at::kFloat) * (scale * M_LOG2E));
  // k^T by blocks of kKeyBlock keys: (count, blocks, P, kKeyBlock, 2), so a block's rows lie 1 KiB apart, not
  // Sp words (16 KiB at 4,096 keys: every row of a tile in the same few L1 sets)
  const int64_t blocks = (S + kKeyBlock - 1) / kKeyBlock;
  at::Tensor k = at::zeros({count, blocks * kKeyBlock, 2 * P}, bf);
  k.narrow(1, 0, S).narrow(2, 0, E).copy_(key.reshape({count, S, E}));
  at::Tensor kt = k.view({count, blocks, kKeyBlock, P, 2}).permute({0, 1, 3, 2, 4}).contiguous();
  at::Tensor v = at::zeros({count, Sp, Evp}, bf);
  v.narrow(1, 0, S).narrow(2, 0, Ev).copy_(value.reshape({count, S, Ev}));
  at::Tensor vt = v.view({count, Sp / 2, 2, Evp}).permute({0, 1, 3, 2}).contiguous();  // (count, Sp / 2, Evp, 2)
  at::Tensor out = at::empty({count, L, Ev}, query.options().dtype(at::kFloat));
  auto words = [](const at::Tensor &t) { return reinterpret_cast<const uint32_t *>(t.data_ptr<at::BFloat16>()); };
  std::vector<Head16> heads(count);
  for (int64_t i = 0; i < count; i++)
    heads[i] = Head16{words(q) + i * L * P, words(kt) + i * blocks * P * kKeyBlock, words(vt) + i * (Sp / 2) * Evp, out.data_ptr<float>() + i * L * Ev, L, S, Sp, P, Ev, Evp};
  run_heads_bf16(heads, is_causal);
  std::vector<int64_t> out_shape(query.sizes().begin(), query.sizes().end());
  out_shape.back() = Ev;
  return out.to(at::kBFloat16).view(out_shape);
}
}  // namespace
#endif

at::Tensor flash_attention(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value, double scale, bool is_causal) {
#ifdef PSD_FLASH_KERNELS
  if (query.scalar_type() == at::kBFloat16) {
    if (!bf16_kernels_active()) throw std::logic_error("flash attention has no bfloat16 kernel for this CPU");
    return flash_attention_bf16(query, key, value, scale, is_causal);
  }
  const int64_t L = query.size(-2), S = key.size(-2), E = query.size(-1), Ev = value.size(-1);
  const int64_t count = query.numel() / (L * E);
  const FlashIsa isa = active_isa.load();
  if (isa == FlashIsa::kNone) throw std::logic_error("flash attention has no kernel for this CPU");
  const int W = isa == FlashIsa::kAvx512 ? 16 : 8;
  const int64_t Sp = (S + kKeyPad - 1) / kKeyPad * kKeyPad, Evp = (Ev + W - 1) / W * W;
  const auto f32 = query.options().dtype(at::kFloat);
  // exp(x) = 2^(x log2 e): the scale and log2(e) go into q once, the kernel's exponentials are powers of two
  at::Tensor q = (query.reshape({count, L, E}).to(at::kFloat) * (scale * M_LOG2E)).contiguous();
  // k^T by blocks of kKeyBlock keys, (count, blocks, E, kKeyBlock): a block's rows lie 1 KiB apart, not Sp floats
  // (16 KiB at 4,096 keys, which put every row of a tile in the same few L1 sets)
  const int64_t blocks = (S + kKeyBlock - 1) / kKeyBlock;
  at::Tensor k = at::zeros({count, blocks * kKeyBlock, E}, f32);
  k.narrow(1, 0, S).copy_(key.reshape({count, S, E}));
  at::Tensor kt = k.view({count, blocks, kKeyBlock, E}).transpose(2, 3).contiguous();
  at::Tensor v = at::zeros({count, Sp, Evp}, f32);
  v.narrow(1, 0, S).narrow(2, 0, Ev).copy_(value.reshape({count, S, Ev}));
  at::Tensor out = at::empty({count, L, Ev}, f32);
  std::vector<Head> heads(count);
  for (int64_t i = 0; i < count; i++)
    heads[i] = Head{q.data_ptr<float>() + i * L * E, kt.data_ptr<float>() + i * blocks * E * kKeyBlock, v.data_ptr<float>() + i * Sp * Evp,
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
