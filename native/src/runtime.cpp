// Library-level calls: errors, versions, BLAS and threads, dtype/device getters, generators.
#include <thread>
#include <chrono>
#include <ATen/Config.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>
#include <dlfcn.h>
#include <malloc.h>

#include <climits>
#include <cstdlib>
#include <string>

#include "common.h"

namespace psd {

std::atomic<int64_t> live_tensors{0};

namespace {
thread_local std::string last_error;
// Set when the message itself could not be stored (no memory for the string): reported instead of it.
thread_local const char *last_error_fallback = nullptr;
thread_local std::string build_info;
thread_local std::string blas_info;
thread_local psd_test_fault armed_fault = PSD_TEST_FAULT_NONE;
thread_local int64_t fault_countdown = 0;
}  // namespace

void fault_point(psd_test_fault kind) {
  if (armed_fault != kind || --fault_countdown > 0) return;
  armed_fault = PSD_TEST_FAULT_NONE;
  throw std::bad_alloc();
}

// Called from guarded's handlers, which are noexcept: a bad_alloc here would terminate the process.
void set_last_error(const char *message) noexcept {
  try {
    fault_point(PSD_TEST_FAULT_ERROR_MESSAGE);
    last_error.assign(message == nullptr ? "" : message);
    last_error_fallback = nullptr;
  } catch (...) {
    last_error_fallback = "the error message could not be stored (out of memory)";
  }
}

std::vector<at::Tensor> tensor_list(psd_tensor *const *handles, int64_t count, const char *what) {
  if (count < 0) throw ArgumentError(std::string(what) + ": negative count");
  if (count > 0 && handles == nullptr) throw ArgumentError(std::string(what) + " is NULL");
  std::vector<at::Tensor> list;
  list.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; i++) {
    if (handles[i] == nullptr) throw ArgumentError(std::string(what) + "[" + std::to_string(i) + "] is NULL");
    list.push_back(Borrowed(handles[i]).get());
  }
  return list;
}

void install_counting_allocator();

}  // namespace psd

using namespace psd;

namespace psd {
std::atomic<int64_t> &calls_in_flight() noexcept {
  static std::atomic<int64_t> count{0};
  return count;
}
std::atomic<bool> &shutting_down() noexcept {
  static std::atomic<bool> flag{false};
  return flag;
}
}  // namespace psd

extern "C" {

int32_t psd_abi_version(void) { return PSD_ABI_VERSION; }

const char *psd_last_error(void) { return last_error_fallback != nullptr ? last_error_fallback : last_error.c_str(); }

int32_t psd_noop(void) { return PSD_OK; }

int32_t psd_test_inject_fault(int32_t kind, int64_t countdown) {
  return guarded([&] {
    if (kind < PSD_TEST_FAULT_NONE || kind > PSD_TEST_FAULT_OP_RESULT)
      throw ArgumentError("unknown fault kind " + std::to_string(kind));
    armed_fault = countdown > 0 ? static_cast<psd_test_fault>(kind) : PSD_TEST_FAULT_NONE;
    fault_countdown = countdown;
  });
}

int32_t psd_runtime_init(int64_t mmap_threshold, int64_t trim_threshold) {
  return psd_runtime_init_v2(true, mmap_threshold, trim_threshold);
}

int32_t psd_runtime_shutdown(int64_t timeout_ms, int64_t *ret_in_flight) {
  // not guarded: it must not count itself, and it only touches atomics
  psd::shutting_down().store(true);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  while (psd::calls_in_flight().load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  int64_t left = psd::calls_in_flight().load();
  if (ret_in_flight != nullptr) *ret_in_flight = left;
  return PSD_OK;
}

int32_t psd_runtime_init_v2(bool counting_allocator, int64_t mmap_threshold, int64_t trim_threshold) {
  return guarded([&] {
    if (counting_allocator) install_counting_allocator();
    // Large temporaries otherwise make glibc map and unmap pages on every call.
    if (mmap_threshold > 0 && mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min<int64_t>(mmap_threshold, INT_MAX))) == 0)
      throw std::runtime_error("mallopt(M_MMAP_THRESHOLD) refused " + std::to_string(mmap_threshold));
    if (trim_threshold > 0 && mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<int64_t>(trim_threshold, INT_MAX))) == 0)
      throw std::runtime_error("mallopt(M_TRIM_THRESHOLD) refused " + std::to_string(trim_threshold));
  });
}

int32_t psd_runtime_torch_version(const char **ret_version) {
  return guarded([&] {
    static const std::string version = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
                                       "." + std::to_string(TORCH_VERSION_PATCH);
    *out(ret_version) = version.c_str();
  });
}

int32_t psd_runtime_build_info(const char **ret_info) {
  return guarded([&] {
    build_info = at::show_config();
    *out(ret_info) = build_info.c_str();
  });
}

int32_t psd_runtime_trim_heap(int32_t *ret_released) {
  return guarded([&] {
#ifdef __GLIBC__
    *out(ret_released) = malloc_trim(0);
#else
    *out(ret_released) = 0;
#endif
  });
}

int32_t psd_runtime_blas_info(const char **ret_info) {
  return guarded([&] {
    // Report the BLAS the process actually maps: the library that defines sgemm_, and OpenBLAS's own
    // configuration string when that library is OpenBLAS.
    std::string info;
    using ConfigFn = char *(*)();
    auto config = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
    info += config != nullptr ? std::string("OpenBLAS ") + config() : std::string("not OpenBLAS");
    void *sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
    Dl_info where{};
    if (sgemm != nullptr && dladdr(sgemm, &where) != 0 && where.dli_fname != nullptr) {
      char resolved[PATH_MAX];
      const char *path = realpath(where.dli_fname, resolved) != nullptr ? resolved : where.dli_fname;
      info += std::string("; sgemm_ from ") + path;
    } else {
      info += "; no sgemm_ symbol mapped";
    }
    using ThreadsFn = int (*)();
    auto threads = reinterpret_cast<ThreadsFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    if (threads != nullptr) info += "; openblas threads " + std::to_string(threads());
    blas_info = info;
    *out(ret_info) = blas_info.c_str();
  });
}

int32_t psd_runtime_get_num_threads(int32_t *ret_threads) {
  return guarded([&] { *out(ret_threads) = at::get_num_threads(); });
}

int32_t psd_runtime_set_num_threads(int32_t threads) {
  return guarded([&] {
    if (threads < 1) throw ArgumentError("thread count must be at least 1, got " + std::to_string(threads));
    at::set_num_threads(threads);
  });
}

int32_t psd_runtime_manual_seed(uint64_t seed) { return guarded([&] { at::manual_seed(seed); }); }

int32_t psd_runtime_cuda_device_count(int32_t *ret_count) {
  return guarded([&] { *out(ret_count) = at::globalContext().hasCUDA() ? static_cast<int32_t>(at::detail::getCUDAHooks().getNumGPUs()) : 0; });
}

int32_t psd_runtime_has_fused_sdpa(int32_t *ret_has) {
  return guarded([&] {
#if TORCH_VERSION_MAJOR >= 2
    *out(ret_has) = 1;
#else
    *out(ret_has) = 0;
#endif
  });
}

int32_t psd_runtime_has_mkldnn(int32_t *ret_has) {
  return guarded([&] {
#if AT_MKLDNN_ENABLED()
    *out(ret_has) = 1;
#else
    *out(ret_has) = 0;
#endif
  });
}

int64_t psd_memory_live_tensors(void) { return live_tensors.load(std::memory_order_relaxed); }

int32_t psd_dtype_float32(void) { return static_cast<int32_t>(at::kFloat); }
int32_t psd_dtype_float64(void) { return static_cast<int32_t>(at::kDouble); }
int32_t psd_dtype_float16(void) { return static_cast<int32_t>(at::kHalf); }
int32_t psd_dtype_bfloat16(void) { return static_cast<int32_t>(at::kBFloat16); }
int32_t psd_dtype_int64(void) { return static_cast<int32_t>(at::kLong); }
int32_t psd_dtype_int32(void) { return static_cast<int32_t>(at::kInt); }
int32_t psd_dtype_int16(void) { return static_cast<int32_t>(at::kShort); }
int32_t psd_dtype_int8(void) { return static_cast<int32_t>(at::kChar); }
int32_t psd_dtype_uint8(void) { return static_cast<int32_t>(at::kByte); }
int32_t psd_dtype_bool(void) { return static_cast<int32_t>(at::kBool); }

int32_t psd_dtype_element_size(int32_t dtype, int64_t *ret_size) {
  return guarded([&] {
    if (dtype < 0 || dtype >= static_cast<int32_t>(at::ScalarType::NumOptions))
      throw ArgumentError("unknown dtype value " + std::to_string(dtype));
    *out(ret_size) = static_cast<int64_t>(c10::elementSize(static_cast<at::ScalarType>(dtype)));
  });
}

int32_t psd_device_cpu(void) { return static_cast<int32_t>(c10::DeviceType::CPU); }
int32_t psd_device_cuda(void) { return static_cast<int32_t>(c10::DeviceType::CUDA); }
int32_t psd_memory_format_contiguous(void) { return static_cast<int32_t>(at::MemoryFormat::Contiguous); }
int32_t psd_memory_format_channels_last(void) { return static_cast<int32_t>(at::MemoryFormat::ChannelsLast); }

int32_t psd_generator_new(int32_t device_type, int32_t device_index, uint64_t seed, psd_generator **ret_generator) {
  return guarded([&] {
    out(ret_generator);
    c10::Device device(static_cast<c10::DeviceType>(device_type), static_cast<c10::DeviceIndex>(device_index));
    at::Generator generator = device.is_cpu() ? at::make_generator<at::CPUGeneratorImpl>(seed)
                                              : at::globalContext().defaultGenerator(device).clone();
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_current_seed(seed);
    }
    *ret_generator = new psd_generator{std::move(generator)};
  });
}

int32_t psd_generator_set_seed(psd_generator *generator, uint64_t seed) {
  return guarded([&] {
    if (generator == nullptr) throw ArgumentError("generator handle is NULL");
    std::lock_guard<std::mutex> lock(generator->generator.mutex());
    generator->generator.set_current_seed(seed);
  });
}

void psd_generator_free(psd_generator *generator) {
  released([&] { delete generator; });
}

}  // extern "C"
