// W float32 lanes over GCC's vector types, for kernels written once and compiled for AVX-512 (W = 16) and for
// AVX2 + FMA (W = 8) inside functions with the matching target attribute (attention.cpp, fused.cpp). Everything here
// is inlined into those functions, so no vector crosses a function boundary and no ABI is involved.
#pragma once

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define PSD_SIMD_LANES 1

#include <algorithm>
#include <cstdint>
#include <cstring>

#define PSD_INLINE inline __attribute__((always_inline))

#pragma GCC diagnostic ignored "-Wpsabi"

namespace psd {
// GCC's vector types of W float lanes (a dependent vector_size is ignored in a template, hence the specialisations).
template <int W>
struct VectorTypes;
template <>
struct VectorTypes<16> {
  typedef float V __attribute__((vector_size(64)));
  typedef int32_t I __attribute__((vector_size(64)));
  typedef uint32_t U __attribute__((vector_size(64)));
  typedef uint16_t H __attribute__((vector_size(32)));
  typedef float VH __attribute__((vector_size(32)));  // half of V
  typedef double D __attribute__((vector_size(64)));  // VH widened
};
template <>
struct VectorTypes<8> {
  typedef float V __attribute__((vector_size(32)));
  typedef int32_t I __attribute__((vector_size(32)));
  typedef uint32_t U __attribute__((vector_size(32)));
  typedef uint16_t H __attribute__((vector_size(16)));
  typedef float VH __attribute__((vector_size(16)));
  typedef double D __attribute__((vector_size(32)));
};

// W float lanes (16 for AVX-512, 8 for AVX2); unaligned loads and stores go through memcpy, which GCC compiles to
// one vmovups.
template <int W>
struct Lanes {
  using V = typename VectorTypes<W>::V;
  using I = typename VectorTypes<W>::I;
  using U = typename VectorTypes<W>::U;
  using H = typename VectorTypes<W>::H;
  using VH = typename VectorTypes<W>::VH;
  using D = typename VectorTypes<W>::D;
  static PSD_INLINE V load(const float *p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
  }
  static PSD_INLINE void store(float *p, V v) { std::memcpy(p, &v, sizeof(V)); }
  static PSD_INLINE V splat(float x) { return V{} + x; }
  // The lanes in double: the first W / 2 and the last W / 2.
  static PSD_INLINE void widen(V v, D *lo, D *hi) {
    VH a, b;
    std::memcpy(&a, &v, sizeof(VH));
    std::memcpy(&b, reinterpret_cast<const char *>(&v) + sizeof(VH), sizeof(VH));
    *lo = __builtin_convertvector(a, D);
    *hi = __builtin_convertvector(b, D);
  }
  static PSD_INLINE D load_d(const double *p) {
    D d;
    std::memcpy(&d, p, sizeof(D));
    return d;
  }
  static PSD_INLINE void store_d(double *p, D d) { std::memcpy(p, &d, sizeof(D)); }
  static PSD_INLINE double sum_d(D d) {
    double a[W / 2];
    std::memcpy(a, &d, sizeof(D));
    double total = 0;
    for (int i = 0; i < W / 2; i++) total += a[i];
    return total;
  }
  // W bfloat16 values (their bits) widened to float32: a bfloat16 is a float32's upper half.
  static PSD_INLINE V load_bf16(const uint16_t *p) {
    H h;
    std::memcpy(&h, p, sizeof(H));
    return (V)(__builtin_convertvector(h, U) << 16);
  }
  // Rounded to bfloat16 to nearest even, NaN kept NaN (the rounding add could carry a NaN's low payload into infinity).
  static PSD_INLINE void store_bf16(uint16_t *p, V v) {
    U bits = (U)v;
    U rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    rounded = v != v ? (U{} + 0x7FC0u) : rounded;
    H h = __builtin_convertvector(rounded, H);
    std::memcpy(p, &h, sizeof(H));
  }
  // horizontal maximum and sum by halves: log2(W) dependent steps, not W - 1
  static PSD_INLINE float max(V v) {
    float a[W];
    std::memcpy(a, &v, sizeof(V));
    for (int w = W / 2; w > 0; w /= 2)
      for (int i = 0; i < w; i++) a[i] = std::max(a[i], a[i + w]);
    return a[0];
  }
  static PSD_INLINE float sum(V v) {
    float a[W];
    std::memcpy(a, &v, sizeof(V));
    for (int w = W / 2; w > 0; w /= 2)
      for (int i = 0; i < w; i++) a[i] += a[i + w];
    return a[0];
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
}  // namespace psd
#endif
