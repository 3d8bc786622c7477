// The C++ baseline of the bridge benchmark: the per-op cost of adding two 1-element tensors, making and
// freeing the result each time, against the same libtorch the shim uses.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
  long iterations = argc > 1 ? std::atol(argv[1]) : 2000000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  at::Tensor a = at::ones({1});
  at::Tensor b = at::ones({1});
  for (long i = 0; i < iterations / 4; i++) at::add(a, b);  // warm-up
  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < iterations; i++) {
      at::Tensor c = at::add(a, b);
      (void)c;
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / iterations;
    std::printf("round %d: %.1f ns/op\n", r, ns);
    if (ns < best) best = ns;
  }
  std::printf("cpp_add_ns_per_op %.1f\n", best);
  return 0;
}
