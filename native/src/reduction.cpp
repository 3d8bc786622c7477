// Reductions over dims with keepdim; ndims == 0 reduces over every dim.
#include "common.h"

using namespace psd;

namespace {
at::OptionalIntArrayRef dims_or_all(const int64_t *dims, int64_t ndims) {
  if (ndims == 0) return c10::nullopt;
  return ints(dims, ndims, "dims");
}
}  // namespace

extern "C" {

int32_t psd_tensor_sum(const psd_tensor *a, const int64_t *dims, int64_t ndims, bool keepdim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::sum(T(a, "a"), dims_or_all(dims, ndims), keepdim)); });
}

int32_t psd_tensor_mean(const psd_tensor *a, const int64_t *dims, int64_t ndims, bool keepdim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::mean(T(a, "a"), dims_or_all(dims, ndims), keepdim)); });
}

int32_t psd_tensor_var(const psd_tensor *a, const int64_t *dims, int64_t ndims, int64_t correction, bool keepdim,
                       psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::var(T(a, "a"), dims_or_all(dims, ndims), correction, keepdim)); });
}

int32_t psd_tensor_std(const psd_tensor *a, const int64_t *dims, int64_t ndims, int64_t correction, bool keepdim,
                       psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::std(T(a, "a"), dims_or_all(dims, ndims), correction, keepdim)); });
}

int32_t psd_tensor_max_dim(const psd_tensor *a, int64_t dim, bool keepdim, psd_tensor **ret_values,
                           psd_tensor **ret_indices) {
  return guarded([&] {
    out(ret_values);
    auto result = at::max(T(a, "a"), dim, keepdim);
    *ret_values = wrap(std::get<0>(result));
    if (ret_indices != nullptr) *ret_indices = wrap(std::get<1>(result));
  });
}

int32_t psd_tensor_min_dim(const psd_tensor *a, int64_t dim, bool keepdim, psd_tensor **ret_values,
                           psd_tensor **ret_indices) {
  return guarded([&] {
    out(ret_values);
    auto result = at::min(T(a, "a"), dim, keepdim);
    *ret_values = wrap(std::get<0>(result));
    if (ret_indices != nullptr) *ret_indices = wrap(std::get<1>(result));
  });
}

int32_t psd_tensor_max_all(const psd_tensor *a, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::max(T(a, "a").get())); });
}

int32_t psd_tensor_min_all(const psd_tensor *a, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::min(T(a, "a").get())); });
}

int32_t psd_tensor_argmax(const psd_tensor *a, int64_t dim, bool keepdim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::argmax(T(a, "a"), dim, keepdim)); });
}

}  // extern "C"
