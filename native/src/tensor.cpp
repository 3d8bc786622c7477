// Tensor accessors, zero-copy wrapping of caller memory, creation and conversions.
#include <sys/mman.h>
#include <unistd.h>
#include "common.h"

using namespace psd;

#include <chrono>
#include <mutex>
#include <thread>

namespace {
using ReleaseFn = void (*)(int64_t);
std::atomic<ReleaseFn> release_callback{nullptr};

// Released tokens wait here for the caller to drain them. Never destroyed: a storage may be freed during
// static destruction at exit, after any destructor of ours would have run.
std::mutex &released_mutex = *new std::mutex();
std::vector<int64_t> &released_tokens = *new std::vector<int64_t>();

void queue_release(int64_t token) noexcept {
  try {
    std::lock_guard<std::mutex> lock(released_mutex);
    released_tokens.push_back(token);
  } catch (...) {
    // no memory to queue it: the caller keeps the memory reachable for good, never frees it early
  }
}

// psd_test_hold_until_exit's references: a static, so only the library's static destructors drop them.
std::mutex held_mutex;
std::vector<c10::Storage> held_until_exit;
}  // namespace

extern "C" {

int32_t psd_tensor_dim(const psd_tensor *tensor, int64_t *ret_dim) {
  return guarded([&] { *out(ret_dim) = T(tensor).get().dim(); });
}

int32_t psd_tensor_sizes(const psd_tensor *tensor, int64_t *ret_sizes, int64_t capacity) {
  return guarded([&] {
    auto t = T(tensor);
    auto sizes = t.get().sizes();
    for (int64_t i = 0; i < std::min<int64_t>(capacity, static_cast<int64_t>(sizes.size())); i++) out(ret_sizes)[i] = sizes[i];
  });
}

int32_t psd_tensor_strides(const psd_tensor *tensor, int64_t *ret_strides, int64_t capacity) {
  return guarded([&] {
    auto t = T(tensor);
    auto strides = t.get().strides();
    for (int64_t i = 0; i < std::min<int64_t>(capacity, static_cast<int64_t>(strides.size())); i++) out(ret_strides)[i] = strides[i];
  });
}

int32_t psd_tensor_numel(const psd_tensor *tensor, int64_t *ret_numel) {
  return guarded([&] { *out(ret_numel) = T(tensor).get().numel(); });
}

int32_t psd_tensor_dtype(const psd_tensor *tensor, int32_t *ret_dtype) {
  return guarded([&] { *out(ret_dtype) = static_cast<int32_t>(T(tensor).get().scalar_type()); });
}

int32_t psd_tensor_device(const psd_tensor *tensor, int32_t *ret_device_type, int32_t *ret_device_index) {
  return guarded([&] {
    auto device = T(tensor).get().device();
    *out(ret_device_type) = static_cast<int32_t>(device.type());
    *out(ret_device_index) = device.index();
  });
}

int32_t psd_tensor_storage_nbytes(const psd_tensor *tensor, int64_t *ret_nbytes) {
  return guarded([&] {
    auto t = T(tensor);
    *out(ret_nbytes) = t.get().has_storage() ? static_cast<int64_t>(t.get().storage().nbytes()) : 0;
  });
}

int32_t psd_tensor_data_ptr(const psd_tensor *tensor, void **ret_data) {
  return guarded([&] { *out(ret_data) = T(tensor).get().data_ptr(); });
}

int32_t psd_tensor_is_contiguous(const psd_tensor *tensor, int32_t memory_format, bool *ret_contiguous) {
  return guarded([&] {
    *out(ret_contiguous) = T(tensor).get().is_contiguous(static_cast<at::MemoryFormat>(memory_format));
  });
}

int32_t psd_tensor_version(const psd_tensor *tensor, int64_t *ret_version) {
  return guarded([&] {
    auto borrowed = T(tensor);
    const at::Tensor &t = borrowed.get();
    *out(ret_version) = t.is_inference() ? -1 : static_cast<int64_t>(t._version());
  });
}

int32_t psd_tensor_is_external(const psd_tensor *tensor, bool *ret_external) {
  return guarded([&] {
    auto borrowed = T(tensor);
    const at::Tensor &t = borrowed.get();
    *out(ret_external) = t.device().is_cpu() && !t.is_mkldnn() && t.has_storage() && t.storage().data() != nullptr && t.storage().allocator() == nullptr;
  });
}

int32_t psd_tensor_page_out(const psd_tensor *tensor, int64_t *ret_bytes) {
  return guarded([&] {
    auto borrowed = T(tensor);
    const at::Tensor &t = borrowed.get();
    int64_t advised = 0;
#ifdef MADV_PAGEOUT
    // only memory wrapped from outside libtorch (psd_tensor_from_blob: a mapped file, a caller's arena), whose
    // storage has no allocator; the allocator's own memory would only go to swap, if anywhere
    if (t.device().is_cpu() && !t.is_mkldnn() && t.has_storage() && t.storage().data() != nullptr &&
        t.storage().allocator() == nullptr) {
      const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
      const uintptr_t begin = reinterpret_cast<uintptr_t>(t.storage().data());
      const uintptr_t end = begin + t.storage().nbytes();
      const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
      // advice only: a refusal (EINVAL on an old kernel) changes nothing, so it is not an error
      if (last > first && madvise(reinterpret_cast<void *>(first), last - first, MADV_PAGEOUT) == 0)
        advised = static_cast<int64_t>(last - first);
    }
#endif
    *out(ret_bytes) = advised;
  });
}

int32_t psd_tensor_item_double(const psd_tensor *tensor, double *ret_value) {
  return guarded([&] { *out(ret_value) = T(tensor).get().item<double>(); });
}

int32_t psd_tensor_item_int64(const psd_tensor *tensor, int64_t *ret_value) {
  return guarded([&] { *out(ret_value) = T(tensor).get().item<int64_t>(); });
}

int32_t psd_set_release_callback(void *callback) {
  return guarded([&] { release_callback.store(reinterpret_cast<ReleaseFn>(callback)); });
}

int32_t psd_tensor_from_blob(void *data, const int64_t *sizes, int64_t ndim, const int64_t *strides, int32_t dtype,
                             int64_t release_token, psd_tensor **ret) {
  return guarded([&] {
    out(ret);
    ReleaseFn release = release_callback.load();
    auto shape = ints(sizes, ndim, "sizes");
    auto opts = at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype));
    // The storage calls back when its last reference goes, so the caller keeps the memory alive till then.
    auto deleter = [release, release_token](void *) {
      if (release != nullptr) release(release_token);
      else queue_release(release_token);
    };
    at::Tensor t = strides == nullptr ? at::from_blob(data, shape, deleter, opts)
                                      : at::from_blob(data, shape, ints(strides, ndim, "strides"), deleter, opts);
    *ret = wrap(std::move(t));
  });
}

int32_t psd_tensor_empty(const int64_t *sizes, int64_t ndim, int32_t dtype, int32_t device_type, int32_t device_index,
                         psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::empty(ints(sizes, ndim, "sizes"), options(dtype, device_type, device_index))); });
}

int32_t psd_tensor_zeros(const int64_t *sizes, int64_t ndim, int32_t dtype, int32_t device_type, int32_t device_index,
                         psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::zeros(ints(sizes, ndim, "sizes"), options(dtype, device_type, device_index))); });
}

int32_t psd_tensor_ones(const int64_t *sizes, int64_t ndim, int32_t dtype, int32_t device_type, int32_t device_index,
                        psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::ones(ints(sizes, ndim, "sizes"), options(dtype, device_type, device_index))); });
}

int32_t psd_tensor_full(const int64_t *sizes, int64_t ndim, double value, int32_t dtype, int32_t device_type,
                        int32_t device_index, psd_tensor **ret) {
  return guarded([&] {
    *out(ret) = wrap(at::full(ints(sizes, ndim, "sizes"), value, options(dtype, device_type, device_index)));
  });
}

int32_t psd_tensor_arange(double start, double end, double step, int32_t dtype, int32_t device_type,
                          int32_t device_index, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::arange(start, end, step, options(dtype, device_type, device_index))); });
}

int32_t psd_tensor_linspace(double start, double end, int64_t steps, int32_t dtype, int32_t device_type,
                            int32_t device_index, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::linspace(start, end, steps, options(dtype, device_type, device_index))); });
}

int32_t psd_tensor_randn(const int64_t *sizes, int64_t ndim, int32_t dtype, int32_t device_type, int32_t device_index,
                         psd_generator *generator, psd_tensor **ret) {
  return guarded([&] {
    *out(ret) = wrap(at::randn(ints(sizes, ndim, "sizes"), generator_of(generator), options(dtype, device_type, device_index)));
  });
}

int32_t psd_tensor_rand(const int64_t *sizes, int64_t ndim, int32_t dtype, int32_t device_type, int32_t device_index,
                        psd_generator *generator, psd_tensor **ret) {
  return guarded([&] {
    *out(ret) = wrap(at::rand(ints(sizes, ndim, "sizes"), generator_of(generator), options(dtype, device_type, device_index)));
  });
}

int32_t psd_tensor_randint(int64_t low, int64_t high, const int64_t *sizes, int64_t ndim, int32_t dtype,
                           int32_t device_type, int32_t device_index, psd_generator *generator, psd_tensor **ret) {
  return guarded([&] {
    *out(ret) = wrap(at::randint(low, high, ints(sizes, ndim, "sizes"), generator_of(generator),
                                 options(dtype, device_type, device_index)));
  });
}

int32_t psd_tensor_randn_like(const psd_tensor *tensor, psd_generator *generator, psd_tensor **ret) {
  return guarded([&] {
    auto t = T(tensor);
    *out(ret) = wrap(at::randn(t.get().sizes(), generator_of(generator), t.get().options()));
  });
}

int32_t psd_tensor_to_dtype(const psd_tensor *tensor, int32_t dtype, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(tensor).get().to(static_cast<at::ScalarType>(dtype))); });
}

int32_t psd_tensor_to_device(const psd_tensor *tensor, int32_t device_type, int32_t device_index, psd_tensor **ret) {
  return guarded([&] {
    c10::Device device(static_cast<c10::DeviceType>(device_type), static_cast<c10::DeviceIndex>(device_index));
    *out(ret) = wrap(T(tensor).get().to(device));
  });
}

int32_t psd_tensor_clone(const psd_tensor *tensor, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(tensor).get().clone()); });
}

int32_t psd_tensor_contiguous(const psd_tensor *tensor, int32_t memory_format, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(tensor).get().contiguous(static_cast<at::MemoryFormat>(memory_format))); });
}

int32_t psd_tensor_copy_(psd_tensor *dst, const psd_tensor *src) {
  return guarded([&] {
    auto d = T(dst, "dst");
    const_cast<at::Tensor &>(d.get()).copy_(T(src, "src").get());
  });
}

int32_t psd_tensor_add_(psd_tensor *dst, const psd_tensor *src, double alpha) {
  return guarded([&] {
    auto d = T(dst, "dst");
    const_cast<at::Tensor &>(d.get()).add_(T(src, "src").get(), alpha);
  });
}

int32_t psd_tensor_fill_(psd_tensor *dst, double value) {
  return guarded([&] {
    auto d = T(dst, "dst");
    const_cast<at::Tensor &>(d.get()).fill_(value);
  });
}

int32_t psd_test_hold(const psd_tensor *tensor, int64_t millis, bool *ret_freed) {
  return guarded([&] {
    // a weak reference sees the tensor die without keeping it alive, as the borrowed handle does not either
    c10::weak_intrusive_ptr<at::TensorImpl, at::UndefinedTensorImpl> seen(T(tensor).get().getIntrusivePtr());
    std::this_thread::sleep_for(std::chrono::milliseconds(millis < 0 ? 0 : millis));
    *out(ret_freed) = seen.expired();
  });
}

int32_t psd_test_hold_until_exit(const psd_tensor *tensor) {
  return guarded([&] {
    c10::Storage storage = T(tensor).get().storage();
    std::lock_guard<std::mutex> lock(held_mutex);
    held_until_exit.push_back(std::move(storage));
  });
}

int32_t psd_blob_drain_released(int64_t *ret_tokens, int64_t capacity, int64_t *ret_count) {
  return guarded([&] {
    out(ret_count, "ret_count");
    if (capacity < 0) throw ArgumentError("negative capacity");
    if (capacity > 0) out(ret_tokens, "ret_tokens");
    std::lock_guard<std::mutex> lock(released_mutex);
    size_t n = std::min(released_tokens.size(), static_cast<size_t>(capacity));
    std::copy(released_tokens.end() - static_cast<std::ptrdiff_t>(n), released_tokens.end(), ret_tokens);
    released_tokens.resize(released_tokens.size() - n);
    *ret_count = static_cast<int64_t>(n);
  });
}

}  // extern "C"
