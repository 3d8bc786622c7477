// Blocked ("flash") attention for the CPU: softmax(q k^T * scale) v computed by blocks of queries and keys with a
// running row maximum and sum, so no score matrix larger than one block pair exists. When switched on, used by
// psd_tensor_scaled_dot_product_attention for float32 inputs without mask, dropout, causal masking or a graph to
// record; everything else takes the math path. Off by default: built from ATen ops per block (two GEMMs and six
// elementwise or reduction passes), it measures 2-3x slower than the math path (bench-attention); a fused
// exponential-and-sum pass with SIMD kernels chosen per CPU is what it lacks.
#include <ATen/Parallel.h>

#include <atomic>
#include <limits>

#include "attention.h"
#include "common.h"

namespace psd {
namespace {
// A block of 128 queries against 512 keys: 256 KiB of scores, which stay in a core's L2 cache between the
// q k^T product, the exponentials and the product with v.
constexpr int64_t kQueryBlock = 128;
constexpr int64_t kKeyBlock = 512;

std::atomic<bool> blocked_enabled{false};
}  // namespace

void set_blocked_attention(bool enabled) { blocked_enabled.store(enabled); }
bool blocked_attention_enabled() { return blocked_enabled.load(); }

bool blocked_attention_applies(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, bool has_mask, double dropout_p,
                               bool is_causal) {
  if (!blocked_enabled.load() || has_mask || dropout_p > 0 || is_causal) return false;
  for (const at::Tensor *t : {&q, &k, &v})
    if (!t->is_cpu() || t->scalar_type() != at::kFloat || t->dim() < 2) return false;
  if (at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad())) return false;
  if (q.dim() != k.dim() || k.dim() != v.dim()) return false;
  // leading (batch, head) dims equal: the caller's broadcast cases take the math path
  for (int64_t d = 0; d < q.dim() - 2; d++)
    if (q.size(d) != k.size(d) || k.size(d) != v.size(d)) return false;
  // empty queries, keys or features take the math path, which defines them
  return q.size(-1) == k.size(-1) && k.size(-2) == v.size(-2) && k.size(-2) > 0 && q.size(-2) > 0 && q.size(-1) > 0 && v.size(-1) > 0 &&
         q.numel() > 0;
}

at::Tensor blocked_attention(const at::Tensor &query, const at::Tensor &key, const at::Tensor &value, double scale) {
  const int64_t L = query.size(-2), S = key.size(-2), E = query.size(-1), Ev = value.size(-1);
  const int64_t heads = query.numel() / std::max<int64_t>(1, L * E);
  at::Tensor q = query.reshape({heads, L, E}).contiguous();
  at::Tensor k = key.reshape({heads, S, E}).contiguous();
  at::Tensor v = value.reshape({heads, S, Ev}).contiguous();
  std::vector<int64_t> out_shape(query.sizes().begin(), query.sizes().end());
  out_shape.back() = Ev;
  at::Tensor out = at::empty({heads, L, Ev}, q.options());
  const int64_t query_blocks = (L + kQueryBlock - 1) / kQueryBlock;
  at::parallel_for(0, heads * query_blocks, 1, [&](int64_t begin, int64_t end) {
    at::Tensor scores = at::empty({kQueryBlock, kKeyBlock}, q.options());
    at::Tensor acc = at::empty({kQueryBlock, Ev}, q.options());
    at::Tensor block_max = at::empty({kQueryBlock}, q.options()), block_sum = at::empty({kQueryBlock}, q.options());
    std::vector<float> running_max(kQueryBlock), running_sum(kQueryBlock), correction(kQueryBlock);
    at::Tensor correction_t = at::from_blob(correction.data(), {kQueryBlock}, q.options());
    for (int64_t index = begin; index < end; index++) {
      const int64_t h = index / query_blocks, q0 = (index % query_blocks) * kQueryBlock, rows = std::min(kQueryBlock, L - q0);
      at::Tensor qb = q[h].narrow(0, q0, rows);
      at::Tensor a = acc.narrow(0, 0, rows);
      a.zero_();
      std::fill(running_max.begin(), running_max.end(), -std::numeric_limits<float>::infinity());
      std::fill(running_sum.begin(), running_sum.end(), 0.0f);
      for (int64_t k0 = 0; k0 < S; k0 += kKeyBlock) {
        const int64_t cols = std::min(kKeyBlock, S - k0);
        at::Tensor s = scores.narrow(0, 0, rows).narrow(1, 0, cols);
        at::mm_out(s, qb, k[h].narrow(0, k0, cols).t());
        at::Tensor m = block_max.narrow(0, 0, rows);
        at::amax_out(m, s, {1});
        const float *mp = m.data_ptr<float>();
        for (int64_t r = 0; r < rows; r++) {
          float next = std::max(running_max[r], mp[r] * static_cast<float>(scale));
          correction[r] = std::exp(running_max[r] - next);  // 0 for the first block (exp(-inf))
          running_max[r] = next;
        }
        // exp(s * scale - max), row by row max: the new block's weights under the running maximum
        at::Tensor rmax = at::from_blob(running_max.data(), {rows, 1}, q.options());
        s.mul_(scale).sub_(rmax).exp_();
        at::Tensor sum = block_sum.narrow(0, 0, rows);
        at::sum_out(sum, s, {1});
        const float *sp = sum.data_ptr<float>();
        for (int64_t r = 0; r < rows; r++) running_sum[r] = running_sum[r] * correction[r] + sp[r];
        a.mul_(correction_t.narrow(0, 0, rows).unsqueeze(1));
        a.addmm_(s, v[h].narrow(0, k0, cols));
      }
      at::Tensor inverse = at::from_blob(running_sum.data(), {rows, 1}, q.options()).reciprocal();
      at::Tensor target = out[h].narrow(0, q0, rows);
      at::mul_out(target, a, inverse);
    }
  });
  return out.view(out_shape);
}

}  // namespace psd
