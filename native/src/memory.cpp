// Native memory accounting: a counting CPU allocator installed at start-up, and tensor handle lifetime.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <mutex>

#include "common.h"

namespace psd {
namespace {

std::atomic<int64_t> allocated_bytes{0};
std::atomic<int64_t> peak_bytes{0};
std::atomic<int64_t> allocation_count{0};
std::atomic<int64_t> free_count{0};

// Each block carries its size in a header, so the deleter is a plain function of the data pointer
// (raw_allocate / raw_deleter keep working) and the count needs no map.
constexpr size_t kHeader = 64;  // keeps c10's 64-byte alignment of the data

void counting_free(void *data) {
  if (data == nullptr) return;
  char *block = static_cast<char *>(data) - kHeader;
  int64_t size = *reinterpret_cast<int64_t *>(block);
  allocated_bytes.fetch_sub(size, std::memory_order_relaxed);
  free_count.fetch_add(1, std::memory_order_relaxed);
  c10::free_cpu(block);
}

struct CountingAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t nbytes) const override {
    char *block = static_cast<char *>(c10::alloc_cpu(nbytes + kHeader));
    *reinterpret_cast<int64_t *>(block) = static_cast<int64_t>(nbytes);
    int64_t now = allocated_bytes.fetch_add(static_cast<int64_t>(nbytes), std::memory_order_relaxed) +
                  static_cast<int64_t>(nbytes);
    int64_t peak = peak_bytes.load(std::memory_order_relaxed);
    while (now > peak && !peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    allocation_count.fetch_add(1, std::memory_order_relaxed);
    void *data = block + kHeader;
    return {data, data, &counting_free, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &counting_free; }
};

CountingAllocator counting_allocator;

}  // namespace

void install_counting_allocator() {
  static std::once_flag once;
  std::call_once(once, [] { c10::SetCPUAllocator(&counting_allocator, /*priority=*/100); });
}

}  // namespace psd

using namespace psd;

extern "C" {

int32_t psd_memory_get_stats(psd_memory_stats *ret_stats) {
  return guarded([&] {
    out(ret_stats);
    ret_stats->live_tensors = live_tensors.load(std::memory_order_relaxed);
    ret_stats->allocated_bytes = allocated_bytes.load(std::memory_order_relaxed);
    ret_stats->peak_bytes = peak_bytes.load(std::memory_order_relaxed);
    ret_stats->allocations = allocation_count.load(std::memory_order_relaxed);
    ret_stats->frees = free_count.load(std::memory_order_relaxed);
  });
}

int32_t psd_memory_reset_peak(void) {
  return guarded([&] { peak_bytes.store(allocated_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed); });
}

void psd_tensor_free(psd_tensor *tensor) {
  if (tensor == nullptr) return;
  released([&] {
    live_tensors.fetch_sub(1, std::memory_order_relaxed);
    c10::raw::intrusive_ptr::decref(impl_of(tensor));
  });
}

int32_t psd_tensor_share(const psd_tensor *tensor, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(tensor).get()); });
}

}  // extern "C"
