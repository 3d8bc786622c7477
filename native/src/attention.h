// Fused ("flash") attention for the CPU (attention.cpp).
#pragma once

#include <ATen/ATen.h>

#include <functional>

namespace psd {
// The SIMD kernels this CPU runs (CPUID at load time); kNone: every call takes the math path.
enum class FlashIsa : int32_t { kNone = 0, kAvx2 = 1, kAvx512 = 2 };
FlashIsa flash_attention_isa();
// The CPU's own (capped by ATEN_CPU_CAPABILITY), whatever set_flash_attention_isa chose since.
FlashIsa flash_attention_isa_detected();
// Whether bfloat16 inputs take the AVX512_BF16 kernels: the CPU has them and the AVX-512 kernels are in use.
bool bf16_kernels_active();
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

// Which path attention takes where the kernels apply: always the math path, always the kernels, or per shape the
// faster of the two, timed on the shape's first call (the default: which wins depends on the CPU, the dtype, the
// head width and the number of keys).
enum class AttentionChoice : int32_t { kMath = 0, kFlash = 1, kTimed = 2 };
void set_attention_choice(AttentionChoice choice);
AttentionChoice attention_choice();
// Under kTimed: the result of the path this shape's timing chose (timing it first, both paths twice, if this is its
// first call); math computes the math path's result.
at::Tensor timed_attention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, double scale, bool is_causal,
                           const std::function<at::Tensor()> &math);
// Shapes timed so far in this process, and how many of them chose the kernels.
void attention_timings(int64_t *shapes, int64_t *flash);
// The choices on record as rows of kAttentionRow values (the shape's key, then 1 where the kernels won): up to
// `capacity` rows written, the number on record returned; and rows put on record (a known shape keeps its choice),
// so that another process's timings (a cache file) decide as they did there.
constexpr int64_t kAttentionRow = 10;
int64_t attention_choices(int64_t *rows, int64_t capacity);
void put_attention_choices(const int64_t *rows, int64_t count);
// Forgets every choice (tests: a new process's state).
void clear_attention_choices();
}  // namespace psd
