// The machine's float32 multiply-add peak, measured: every libtorch intra-op thread runs independent chains of
// vector FMAs (more chains than the FMA units' latency x count, so they never wait on each other) with the widest
// vectors the flash kernels may use here (AVX-512, AVX2 + FMA, capped by ATEN_CPU_CAPABILITY as they are). A
// workload's FLOP/s over this is its share of what the cores can do at the clock they run now, which no CPU flag
// or nominal frequency tells (turbo, a virtual machine's host).
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "attention.h"
#include "common.h"
#include "panamasd.h"
#include "simd_lanes.h"

namespace psd {
namespace {
// independent accumulators: 2 FMA units x 4 cycles latency = 8 in flight, and more, but with the multiplier and the
// addend all in registers (AVX-512 has 32, AVX2 16: more chains would spill to memory and measure the stores)
constexpr int kChains512 = 16;
constexpr int kChains256 = 12;

std::atomic<float> sink{0};

// Chains x iterations multiply-adds of W lanes (Lanes<W>, as the kernels use them); the values stay finite
// (x * 0.999999 + 1e-7). a * m + c contracts to one FMA (GNU C++ contracts across an expression by default).
template <int W, int Chains>
PSD_INLINE float fma_chains(int64_t iterations) {
  using L = Lanes<W>;
  typename L::V a[Chains];
  for (int k = 0; k < Chains; k++) a[k] = L::splat(1.0f + k * 1e-3f);
  const typename L::V m = L::splat(0.999999f), c = L::splat(1e-7f);
  for (int64_t i = 0; i < iterations; i++)
    for (int k = 0; k < Chains; k++) a[k] = a[k] * m + c;
  typename L::V s = a[0];
  for (int k = 1; k < Chains; k++) s += a[k];
  return L::sum(s);
}

__attribute__((target("avx512f,avx2,fma"))) float fma_avx512(int64_t iterations) { return fma_chains<16, kChains512>(iterations); }
__attribute__((target("avx2,fma"))) float fma_avx2(int64_t iterations) { return fma_chains<8, kChains256>(iterations); }

// Seconds for every thread to run `iterations`; FLOPs per thread = iterations x chains x lanes x 2.
double timed(FlashIsa isa, int64_t iterations, int threads) {
  auto start = std::chrono::steady_clock::now();
  at::parallel_for(0, threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t++) sink.store(isa == FlashIsa::kAvx512 ? fma_avx512(iterations) : fma_avx2(iterations));
  });
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace
}  // namespace psd

extern "C" int32_t psd_runtime_fma_peak(double seconds, double *ret_gflops_per_s, int32_t *ret_lanes) {
  return psd::guarded([&] {
    using namespace psd;
    if (!(seconds > 0 && seconds <= 60)) throw ArgumentError("the FMA peak is measured for 0 to 60 seconds, not " + std::to_string(seconds));
    // the detected kernels, not the ones a caller chose for tests (psd_runtime_set_flash_attention_isa)
    const FlashIsa isa = flash_attention_isa_detected();
    if (isa == FlashIsa::kNone) {
      *out(ret_gflops_per_s) = 0;
      *out(ret_lanes) = 0;
      return;
    }
    const int lanes = isa == FlashIsa::kAvx512 ? 16 : 8;
    const int threads = at::get_num_threads();
    // grow the iteration count until one run takes a tenth of the time asked, then run the rest at that size
    int64_t iterations = 1 << 14;
    double t = timed(isa, iterations, threads);
    while (t < seconds / 10 && iterations < (int64_t{1} << 40)) {
      iterations *= 4;
      t = timed(isa, iterations, threads);
    }
    double best = t;
    for (double spent = t; spent < seconds;) {
      double r = timed(isa, iterations, threads);
      best = std::min(best, r);
      spent += r;
    }
    const int chains = isa == FlashIsa::kAvx512 ? kChains512 : kChains256;
    *out(ret_gflops_per_s) = static_cast<double>(iterations) * chains * lanes * 2 * threads / best / 1e9;
    *out(ret_lanes) = lanes;
  });
}
