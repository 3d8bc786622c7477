// Blocked attention for the CPU (attention.cpp).
#pragma once

#include <ATen/ATen.h>

namespace psd {
// Whether blocked_attention computes these inputs: CPU float32, no mask, dropout or causal masking, no graph to
// record, equal leading dimensions, and the kernel switched on.
bool blocked_attention_applies(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, bool has_mask, double dropout_p,
                               bool is_causal);
// softmax(q k^T * scale) v over (..., L, E) x (..., S, E) x (..., S, Ev) -> (..., L, Ev).
at::Tensor blocked_attention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, double scale);
void set_blocked_attention(bool enabled);
bool blocked_attention_enabled();
}  // namespace psd
