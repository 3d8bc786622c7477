// Fused ("flash") attention for the CPU (attention.cpp).
#pragma once

#include <ATen/ATen.h>

namespace psd {
// The SIMD kernels this CPU runs (CPUID at load time); kNone: every call takes the math path.
enum class FlashIsa : int32_t { kNone = 0, kAvx2 = 1, kAvx512 = 2 };
FlashIsa flash_attention_isa();
// Uses the kernels of an older instruction set than the CPU's (or none); more than the CPU has is an ArgumentError.
void set_flash_attention_isa(FlashIsa isa);
// Whether flash_attention computes these inputs: CPU float32, no mask or dropout, no
// graph to record, equal leading dimensions, heads of at most 256 features, a CPU with kernels, and the kernel
// switched on. Causal masking is its own.
bool flash_attention_applies(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, bool has_mask, double dropout_p);
// softmax(q k^T * scale (+ causal mask)) v over (..., L, E) x (..., S, E) x (..., S, Ev) -> (..., L, Ev), in q's dtype.
at::Tensor flash_attention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, double scale, bool is_causal);
void set_flash_attention(bool enabled);
bool flash_attention_enabled();
}  // namespace psd
