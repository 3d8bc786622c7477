// The shim's attention kernels under AddressSanitizer and UBSan (scripts/asan-kernels.sh builds and runs it; not
// part of the shim's build): odd and SD shapes, float32 and bfloat16 (the AVX512_BF16 kernels where the CPU has
// them), causal or not, each against softmax attention in float64. Exits 1 when an error exceeds its dtype's bound.
#include <ATen/ATen.h>
#include <cmath>
#include <cstdio>
#include <vector>
#include "attention.h"
int main() {
  at::manual_seed(0);
  int64_t shapes[][6] = {{2, 8, 300, 77, 40, 40}, {1, 2, 1100, 1100, 64, 64}, {2, 1, 129, 513, 80, 80}, {1, 2, 257, 300, 160, 160},
                         {1, 3, 5, 1, 8, 8}, {1, 1, 67, 257, 3, 5}, {1, 2, 700, 1025, 16, 24}, {1, 1, 1, 1, 1, 1}, {1, 1, 3, 2, 256, 256},
                         {1, 1, 65, 255, 7, 17}, {1, 1, 64, 64, 2, 2}};
  int failures = 0;
  // the CPU's kernels, then the AVX2 ones where the CPU has AVX-512 (both compiled here, both under the sanitizers)
  std::vector<psd::FlashIsa> kernels{psd::flash_attention_isa_detected()};
  if (kernels.front() == psd::FlashIsa::kAvx512) kernels.push_back(psd::FlashIsa::kAvx2);
  for (psd::FlashIsa isa : kernels) {
    psd::set_flash_attention_isa(isa);
    for (auto &d : shapes) {
      for (auto dtype : {at::kFloat, at::kBFloat16}) {
        for (bool causal : {false, true}) {
          at::Tensor q = at::randn({d[0], d[1], d[2], d[4]}).to(dtype), k = at::randn({d[0], d[1], d[3], d[4]}).to(dtype),
                     v = at::randn({d[0], d[1], d[3], d[5]}).to(dtype);
          const bool expected = dtype == at::kFloat || psd::bf16_kernels_active();
          if (!psd::flash_attention_applies(q, k, v, false, 0)) {
            std::printf("%ld %ld %ld %ld %ld %ld %s: not applied%s\n", d[0], d[1], d[2], d[3], d[4], d[5], dtype == at::kFloat ? "f32" : "bf16",
                        expected ? " (FAILED: the kernels should take it)" : "");
            if (expected) failures++;
            continue;
          }
          at::Tensor out = psd::flash_attention(q, k, v, 1.0 / std::sqrt((double)d[4]), causal);
          at::Tensor s = at::matmul(q.to(at::kDouble), k.to(at::kDouble).transpose(-2, -1)) / std::sqrt((double)d[4]);
          // top-left causal masking: query i sees keys j <= i, so every row sees key 0 and no output is NaN
          if (causal) s.masked_fill_(at::ones({d[2], d[3]}, at::kBool).tril().logical_not(), -INFINITY);
          at::Tensor ref = at::matmul(at::softmax(s, -1), v.to(at::kDouble));
          double err = (out.to(at::kDouble) - ref).abs().max().item<double>();  // NaN anywhere makes it NaN
          // float32: within 1e-5; bfloat16: within 0.05 (inputs of magnitude 1-4, weights rounded to 8 bits)
          if (!(err <= (dtype == at::kFloat ? 1e-5 : 0.05))) failures++;
          std::printf("%s %ld %ld %ld %ld %ld %ld %s %s err %.3g\n", isa == psd::FlashIsa::kAvx512 ? "avx512" : "avx2", d[0], d[1], d[2], d[3], d[4],
                      d[5], dtype == at::kFloat ? "f32" : "bf16", causal ? "causal" : "", err);
        }
      }
    }
  }
  std::printf("%s\n", failures == 0 ? "done: every case within its bound" : "FAILED: cases beyond their bound");
  return failures == 0 ? 0 : 1;
}
