// Shared plumbing of the shim: handle <-> at::Tensor conversion, the exception barrier, argument checks.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/version.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "panamasd.h"

namespace psd {

// An argument error found by the shim itself (NULL handle, bad count).
struct ArgumentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A feature this libtorch was built without (oneDNN, say): PSD_ERR_UNAVAILABLE, the message naming it.
struct Unavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

extern std::atomic<int64_t> live_tensors;

void set_last_error(const char *message) noexcept;

// Test only (psd_test_inject_fault): throws std::bad_alloc when the fault armed on this thread is of this
// kind and its countdown reaches zero here. Unarmed, it is one thread-local read.
void fault_point(psd_test_fault kind);

// A psd_tensor* is the TensorImpl* of an at::Tensor whose reference we own: no wrapper object is
// allocated per handle, and freeing a handle is one decref.
inline at::TensorImpl *impl_of(const psd_tensor *handle) {
  return reinterpret_cast<at::TensorImpl *>(const_cast<psd_tensor *>(handle));
}

// Views a borrowed handle as an at::Tensor without touching its reference count.
class Borrowed {
 public:
  explicit Borrowed(const psd_tensor *handle)
      : tensor_(handle == nullptr ? at::Tensor()
                                  : at::Tensor(c10::intrusive_ptr<at::TensorImpl, at::UndefinedTensorImpl>::reclaim(
                                        impl_of(handle)))) {}
  ~Borrowed() {
    if (tensor_.defined()) (void)tensor_.unsafeReleaseTensorImpl();
  }
  Borrowed(const Borrowed &) = delete;
  Borrowed &operator=(const Borrowed &) = delete;
  operator const at::Tensor &() const { return tensor_; }
  const at::Tensor &get() const { return tensor_; }

 private:
  at::Tensor tensor_;
};

// A required tensor argument.
inline Borrowed T(const psd_tensor *handle, const char *what = "tensor") {
  if (handle == nullptr) throw ArgumentError(std::string(what) + " handle is NULL");
  return Borrowed(handle);
}

// An optional tensor argument: NULL means none.
inline c10::optional<at::Tensor> opt(const psd_tensor *handle) {
  if (handle == nullptr) return c10::nullopt;
  return Borrowed(handle).get();  // copies: one reference for the optional's lifetime
}

// Gives up our reference as a new handle. An undefined tensor becomes NULL.
inline psd_tensor *wrap(at::Tensor tensor) noexcept {
  if (!tensor.defined()) return nullptr;
  live_tensors.fetch_add(1, std::memory_order_relaxed);
  return reinterpret_cast<psd_tensor *>(tensor.unsafeReleaseTensorImpl());
}

template <class P>
inline P *out(P *pointer, const char *what = "ret") {
  if (pointer == nullptr) throw ArgumentError(std::string(what) + " pointer is NULL");
  return pointer;
}

inline at::IntArrayRef ints(const int64_t *values, int64_t count, const char *what) {
  if (count < 0) throw ArgumentError(std::string(what) + ": negative count " + std::to_string(count));
  if (count > 0 && values == nullptr) throw ArgumentError(std::string(what) + " is NULL");
  return at::IntArrayRef(values, static_cast<size_t>(count));
}

std::vector<at::Tensor> tensor_list(psd_tensor *const *handles, int64_t count, const char *what);

inline at::TensorOptions options(int32_t dtype, int32_t device_type, int32_t device_index) {
  return at::TensorOptions()
      .dtype(static_cast<at::ScalarType>(dtype))
      .device(c10::Device(static_cast<c10::DeviceType>(device_type), static_cast<c10::DeviceIndex>(device_index)));
}

// Native calls in flight, and whether the process is shutting down (psd_runtime_shutdown): exit() must not
// run libtorch's static destructors while another thread is inside libtorch.
std::atomic<int64_t> &calls_in_flight() noexcept;
std::atomic<bool> &shutting_down() noexcept;

struct InFlight {
  InFlight() noexcept { calls_in_flight().fetch_add(1); }
  ~InFlight() { calls_in_flight().fetch_sub(1); }
};

// A free (void: it cannot report a failure) is a native entry like any other: counted while it runs, so the
// exit's wait sees it; once the process is shutting down it does nothing, as the exit frees everything and a
// free then could overlap libtorch's static destructors.
template <class F>
inline void released(F &&body) noexcept {
  InFlight counted;
  if (shutting_down().load()) return;
  try {
    body();
  } catch (...) {
  }
}

// The exception barrier: no C++ exception crosses the C ABI. Each call is counted while it runs; once the
// process is shutting down, new calls fail at once (the count is raised first, so the shutdown's wait sees
// every call that got past the check).
template <class F>
inline int32_t guarded(F &&body) noexcept {
  InFlight counted;
  if (shutting_down().load()) {
    set_last_error("panama-sd is shutting down: no new native calls");
    return PSD_ERR_STD;
  }
  try {
    body();
    return PSD_OK;
  } catch (const c10::Error &e) {
    set_last_error(e.what_without_backtrace());
    return PSD_ERR_TORCH;
  } catch (const ArgumentError &e) {
    set_last_error(e.what());
    return PSD_ERR_ARGUMENT;
  } catch (const Unavailable &e) {
    set_last_error(e.what());
    return PSD_ERR_UNAVAILABLE;
  } catch (const std::exception &e) {
    set_last_error(e.what());
    return PSD_ERR_STD;
  } catch (...) {
    set_last_error("unknown C++ exception");
    return PSD_ERR_UNKNOWN;
  }
}

}  // namespace psd

struct psd_generator {
  at::Generator generator;
};

inline c10::optional<at::Generator> generator_of(psd_generator *g) {
  if (g == nullptr) return c10::nullopt;
  return g->generator;
}
