// Shape changes, joins, splits and indexing.
#include "common.h"

using namespace psd;

namespace {
void write_pieces(const std::vector<at::Tensor> &pieces, psd_tensor **ret_tensors, int64_t capacity,
                  int64_t *ret_count) {
  *out(ret_count, "ret_count") = static_cast<int64_t>(pieces.size());
  if (static_cast<int64_t>(pieces.size()) > capacity)
    throw ArgumentError("result has " + std::to_string(pieces.size()) + " pieces but capacity is " +
                        std::to_string(capacity));
  out(ret_tensors, "ret_tensors");
  for (size_t i = 0; i < pieces.size(); i++) ret_tensors[i] = wrap(pieces[i]);
}
}  // namespace

extern "C" {

int32_t psd_tensor_reshape(const psd_tensor *a, const int64_t *sizes, int64_t ndim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(a, "a").get().reshape(ints(sizes, ndim, "sizes"))); });
}

int32_t psd_tensor_view(const psd_tensor *a, const int64_t *sizes, int64_t ndim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(a, "a").get().view(ints(sizes, ndim, "sizes"))); });
}

int32_t psd_tensor_permute(const psd_tensor *a, const int64_t *dims, int64_t ndim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(a, "a").get().permute(ints(dims, ndim, "dims"))); });
}

int32_t psd_tensor_transpose(const psd_tensor *a, int64_t dim0, int64_t dim1, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(a, "a").get().transpose(dim0, dim1)); });
}

int32_t psd_tensor_expand(const psd_tensor *a, const int64_t *sizes, int64_t ndim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(a, "a").get().expand(ints(sizes, ndim, "sizes"))); });
}

int32_t psd_tensor_repeat(const psd_tensor *a, const int64_t *repeats, int64_t ndim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(a, "a").get().repeat(ints(repeats, ndim, "repeats"))); });
}

int32_t psd_tensor_squeeze(const psd_tensor *a, int64_t dim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(a, "a").get().squeeze(dim)); });
}

int32_t psd_tensor_unsqueeze(const psd_tensor *a, int64_t dim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(a, "a").get().unsqueeze(dim)); });
}

int32_t psd_tensor_flatten(const psd_tensor *a, int64_t start_dim, int64_t end_dim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(a, "a").get().flatten(start_dim, end_dim)); });
}

int32_t psd_tensor_cat(psd_tensor *const *tensors, int64_t count, int64_t dim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::cat(tensor_list(tensors, count, "tensors"), dim)); });
}

int32_t psd_tensor_stack(psd_tensor *const *tensors, int64_t count, int64_t dim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::stack(tensor_list(tensors, count, "tensors"), dim)); });
}

int32_t psd_tensor_chunk(const psd_tensor *a, int64_t chunks, int64_t dim, psd_tensor **ret_tensors, int64_t capacity,
                         int64_t *ret_count) {
  return guarded([&] { write_pieces(T(a, "a").get().chunk(chunks, dim), ret_tensors, capacity, ret_count); });
}

int32_t psd_tensor_split(const psd_tensor *a, int64_t split_size, int64_t dim, psd_tensor **ret_tensors,
                         int64_t capacity, int64_t *ret_count) {
  return guarded([&] { write_pieces(T(a, "a").get().split(split_size, dim), ret_tensors, capacity, ret_count); });
}

int32_t psd_tensor_narrow(const psd_tensor *a, int64_t dim, int64_t start, int64_t length, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(a, "a").get().narrow(dim, start, length)); });
}

int32_t psd_tensor_slice(const psd_tensor *a, int64_t dim, int64_t start, int64_t end, int64_t step, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(a, "a").get().slice(dim, start, end, step)); });
}

int32_t psd_tensor_index_select(const psd_tensor *a, int64_t dim, const psd_tensor *index, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::index_select(T(a, "a"), dim, T(index, "index"))); });
}

int32_t psd_tensor_gather(const psd_tensor *a, int64_t dim, const psd_tensor *index, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::gather(T(a, "a"), dim, T(index, "index"))); });
}

}  // extern "C"
