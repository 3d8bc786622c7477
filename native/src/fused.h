// Fused group norm (+ SiLU), layer norm and GEGLU kernels for CPU inference (fused.cpp).
#pragma once

#include <ATen/ATen.h>

namespace psd {
// Each computes its op into *result and returns true where the kernels apply (switched on, a CPU with AVX-512 or
// AVX2 + FMA kernels, a contiguous CPU float32 or bfloat16 input, no graph to record); false leaves *result alone
// and the caller computes the op with libtorch.
bool fused_group_norm(const at::Tensor &x, int64_t groups, const c10::optional<at::Tensor> &weight,
                      const c10::optional<at::Tensor> &bias, double eps, bool with_silu, at::Tensor *result);
bool fused_layer_norm(const at::Tensor &x, at::IntArrayRef normalized_shape, const c10::optional<at::Tensor> &weight,
                      const c10::optional<at::Tensor> &bias, double eps, at::Tensor *result);
// SiLU(x * scale + shift) for a 4-d x, NCHW or channels-last (the output keeps its layout), scale and shift
// (B, C, 1, 1) or (1, C, 1, 1).
bool fused_scale_shift_silu(const at::Tensor &x, const at::Tensor &scale, const at::Tensor &shift, at::Tensor *result);
// Per sample and channel of a 4-d x (NCHW, channels-last, or a band of rows of either): the sum and the sum of
// squares of its values, in double, as a (2, B, C) float64 tensor.
bool fused_channel_moments(const at::Tensor &x, at::Tensor *result);
// value * gelu(gate) (exact erf) for x = (value, gate) along its last dimension.
bool fused_geglu(const at::Tensor &x, at::Tensor *result);
void set_fused_kernels(bool enabled);
bool fused_kernels_enabled();
// Calls the fused kernels computed in this process.
int64_t fused_kernel_calls();
}  // namespace psd
