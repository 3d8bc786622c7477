// The shim's fused group norm (+ SiLU), layer norm, GEGLU, scale-shift-SiLU and channel-moments kernels under AddressSanitizer and UBSan
// (scripts/asan-kernels.sh builds and runs it; not part of the shim's build): sizes around every vector width and
// piece boundary, float32 and bfloat16, the CPU's kernels and the AVX2 ones, each against libtorch's float64 ops.
// Exits 1 when a kernel does not take an input it should or an error exceeds its dtype's bound.
#include <ATen/ATen.h>
#include <cmath>
#include <cstdio>
#include <vector>
#include "attention.h"
#include "fused.h"

namespace {
int failures = 0;

void check(const char *what, const at::Tensor &got, const at::Tensor &expected, bool taken, at::ScalarType dtype, double scale) {
  // bfloat16: one rounding of the output (2^-8 of it) plus float32 work; float32: a few epsilons of the scale
  at::Tensor bound = (dtype == at::kFloat ? 1.0 / (1 << 22) : 1.0 / 256) * expected.abs() + scale / (1 << 20);
  const bool ok = taken && (got.to(at::kDouble) - expected).abs().le(bound).all().item<bool>();
  if (!ok) failures++;
  std::printf("%s %s%s\n", what, ok ? "ok" : "FAILED", taken ? "" : " (not taken by the kernels)");
}
}  // namespace

int main() {
  at::manual_seed(0);
  std::vector<psd::FlashIsa> kernels{psd::flash_attention_isa_detected()};
  if (kernels.front() == psd::FlashIsa::kNone) {
    std::printf("no kernels on this CPU: nothing to check\n");
    return 0;
  }
  if (kernels.front() == psd::FlashIsa::kAvx512) kernels.push_back(psd::FlashIsa::kAvx2);
  // 1 to 33 values around the vector widths, and pieces of the statistics' 1,024-value sums
  const std::vector<int64_t> widths{1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 1023, 1024, 1025, 2049};
  char what[160];
  for (psd::FlashIsa isa : kernels) {
    psd::set_flash_attention_isa(isa);
    const char *name = isa == psd::FlashIsa::kAvx512 ? "avx512" : "avx2";
    for (auto dtype : {at::kFloat, at::kBFloat16}) {
      const char *type = dtype == at::kFloat ? "f32" : "bf16";
      for (int64_t n : widths) {
        at::Tensor x = (at::randn({3, 2 * n}) * 3).to(dtype), y;
        bool taken = psd::fused_geglu(x, &y);
        auto halves = x.to(at::kDouble).chunk(2, -1);
        std::snprintf(what, sizeof what, "%s %s geglu n=%ld", name, type, n);
        check(what, taken ? y : x, halves[0] * at::gelu(halves[1]), taken, dtype, (halves[0].abs() * halves[1].abs()).max().item<double>());

        at::Tensor rows = (at::randn({3, n}) + 5).to(dtype), w = at::randn({n}).to(dtype), b = at::randn({n}).to(dtype);
        taken = psd::fused_layer_norm(rows, {n}, w, b, 1e-5, &y);
        std::snprintf(what, sizeof what, "%s %s layer_norm d=%ld", name, type, n);
        at::Tensor ref = at::layer_norm(rows.to(at::kDouble), {n}, w.to(at::kDouble), b.to(at::kDouble), 1e-5);
        check(what, taken ? y : rows, ref, taken, dtype, 1e3);

        // 2 groups of 3 channels, n values a channel
        at::Tensor image = (at::randn({2, 6, n}) + 5).to(dtype), gw = at::randn({6}).to(dtype), gb = at::randn({6}).to(dtype);
        for (bool silu : {false, true}) {
          taken = psd::fused_group_norm(image, 2, gw, gb, 1e-5, silu, &y);
          std::snprintf(what, sizeof what, "%s %s group_norm%s plane=%ld", name, type, silu ? "+silu" : "", n);
          at::Tensor normed = at::group_norm(image.to(at::kDouble), 2, gw.to(at::kDouble), gb.to(at::kDouble), 1e-5);
          // one value a group (n = 1 and a constant group) has no spread: the bound scales with 1 / sqrt(eps)
          check(what, taken ? y : image, silu ? at::silu(normed) : normed, taken, dtype, 1e3);
        }

        // a norm's per-channel map + SiLU: n channels, NCHW and channels-last
        at::Tensor planes = at::randn({2, n, 3, 5}).to(dtype), scale = at::randn({2, n, 1, 1}), shift = at::randn({2, n, 1, 1});
        for (bool last : {false, true}) {
          at::Tensor in = last ? planes.contiguous(at::MemoryFormat::ChannelsLast) : planes;
          taken = psd::fused_scale_shift_silu(in, scale, shift, &y);
          std::snprintf(what, sizeof what, "%s %s scale_shift_silu%s c=%ld", name, type, last ? " channels-last" : "", n);
          at::Tensor mapped = at::silu(planes.to(at::kDouble) * scale.to(at::kDouble) + shift.to(at::kDouble));
          check(what, taken ? y : in, mapped, taken, dtype, 1e2);
          // per-channel sums and squares of a band of rows (a view) of the same
          at::Tensor band = in.narrow(2, 1, 2);
          taken = psd::fused_channel_moments(band, &y);
          std::snprintf(what, sizeof what, "%s %s channel_moments%s c=%ld", name, type, last ? " channels-last" : "", n);
          at::Tensor d = band.to(at::kDouble);
          check(what, taken ? y : at::zeros({2, 2, n}, at::kDouble), at::stack({d.sum({2, 3}), (d * d).sum({2, 3})}), taken, at::kFloat, 1e-3);
        }
      }
    }
  }
  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
