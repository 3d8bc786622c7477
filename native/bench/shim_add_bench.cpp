// The bridge benchmark's middle baseline: the same 1-element add as add_bench.cpp, made and freed each time, but
// called from C++ through the shim's C ABI (psd_tensor_add, psd_tensor_free) with the memory set up as the Java
// bindings set it up by default (the counting allocator and its block pool, malloc's thresholds; the other runtime
// settings do not reach a 1-element add). Against add_bench.cpp it is the shim's own cost (the exception barrier, the
// call counting, the allocator's accounting); against the Java API it is the Java side's (the downcall, the scope,
// the Tensor object).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "panamasd.h"

namespace {

void check(int32_t status, const char *call) {
  if (status != PSD_OK) {
    std::fprintf(stderr, "%s failed: %s\n", call, psd_last_error());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char **argv) {
  long iterations = argc > 1 ? std::atol(argv[1]) : 2000000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  // the Java bindings' defaults (internal/Native.java): counting allocator, 32 MiB mmap and 512 MiB trim thresholds, the pool
  check(psd_runtime_init_v2(true, 32L << 20, 512L << 20), "psd_runtime_init_v2");
  check(psd_memory_set_pool(true, 2L << 30), "psd_memory_set_pool");
  const int64_t shape[] = {1};
  psd_tensor *a = nullptr, *b = nullptr, *c = nullptr;
  // as Tensor.ones(1) makes them: float32 on the CPU, device index -1 (the current one)
  check(psd_tensor_ones(shape, 1, psd_dtype_float32(), psd_device_cpu(), -1, &a), "psd_tensor_ones");
  check(psd_tensor_ones(shape, 1, psd_dtype_float32(), psd_device_cpu(), -1, &b), "psd_tensor_ones");
  for (long i = 0; i < iterations / 4; i++) {  // warm-up
    check(psd_tensor_add(a, b, 1.0, &c), "psd_tensor_add");
    psd_tensor_free(c);
  }
  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < iterations; i++) {
      if (psd_tensor_add(a, b, 1.0, &c) != PSD_OK) check(PSD_ERR_UNKNOWN, "psd_tensor_add");
      psd_tensor_free(c);
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / iterations;
    std::printf("round %d: %.1f ns/op\n", r, ns);
    if (ns < best) best = ns;
  }
  psd_tensor_free(a);
  psd_tensor_free(b);
  std::printf("shim_add_ns_per_op %.1f\n", best);
  return 0;
}
