// Native memory accounting: a counting CPU allocator installed at start-up, and tensor handle lifetime.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <sys/mman.h>
#include <time.h>

#include <cstdlib>
#include <cstring>

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

#include "common.h"

namespace psd {
namespace {

std::atomic<int64_t> allocated_bytes{0};
std::atomic<int64_t> peak_bytes{0};
std::atomic<int64_t> allocation_count{0};
std::atomic<int64_t> free_count{0};

// Each block carries its size in a header, so the deleter is a plain function of the data pointer
// (raw_allocate / raw_deleter keep working) and the count needs no map. The header's second word is the
// block's pool size class, 0 for a block from malloc.
constexpr size_t kHeader = 64;  // keeps c10's 64-byte alignment of the data

// The block pool: tensors of at least kPoolMin bytes live in blocks mapped once and kept for reuse, per
// size class, instead of going through malloc. glibc serves large blocks from threads' secondary arenas
// (64 MiB heaps, shrunk with MADV_DONTNEED) or from mmap, so a UNet step's temporaries used to be mapped,
// zero-filled on first touch and unmapped again on every call: millions of minor page faults per 512-px
// step. A reused block's pages stay resident: after the first step the steady state faults no more. The
// pool keeps at most pool_limit bytes of free blocks (the largest are unmapped first when it would hold
// more); psd_memory_release_pool unmaps all of them.
constexpr size_t kPoolMin = size_t{1} << 20;
// A pooled block's data starts one page into its mapping (the header sits just before it), so a class holds
// exactly its size of data: a 4 MiB tensor takes a 4 MiB class, not the next one.
constexpr size_t kPoolHeader = 4096;
std::atomic<bool> pool_enabled{false};
std::atomic<int64_t> pool_limit{int64_t{2} << 30};
std::atomic<int64_t> pooled_bytes{0};  // free blocks the pool holds
std::atomic<int64_t> pool_hits{0};
std::atomic<int64_t> pool_maps{0};
// Whether blocks of 2 MiB or more are mapped with MADV_HUGEPAGE (transparent huge pages where the kernel offers
// them for madvised ranges): a block's first touch then faults 2 MiB at a time instead of 4 KiB.
std::atomic<bool> pool_huge_pages{false};
// Never destroyed: tensors that libtorch's own statics hold are freed during exit, after this file's statics
// would be, and their blocks still come back here.
std::mutex &pool_mutex = *new std::mutex;
std::map<size_t, std::vector<char *>> &pool_free = *new std::map<size_t, std::vector<char *>>;  // class -> free blocks (mapping starts), under pool_mutex

// Size classes of the data: whole MiB up to 16 MiB, then eight steps per power of two (at most 12.5 % rounding).
size_t size_class(size_t bytes) {
  if (bytes <= (size_t{16} << 20)) return (bytes + (size_t{1} << 20) - 1) & ~((size_t{1} << 20) - 1);
  size_t power = size_t{1} << (63 - __builtin_clzll(bytes));
  size_t step = power / 8;
  return (bytes + step - 1) / step * step;
}

// `block` is a mapping's start; the mapping is the class plus the header page.
void unmap_block(char *block, size_t cls) { munmap(block, cls + kPoolHeader); }

// Unmaps free blocks, the largest first, until the pool holds at most `keep` bytes. Caller holds pool_mutex.
void shrink_pool_locked(int64_t keep) {
  for (auto it = pool_free.rbegin(); it != pool_free.rend() && pooled_bytes.load() > keep; ++it) {
    while (!it->second.empty() && pooled_bytes.load() > keep) {
      unmap_block(it->second.back(), it->first);
      it->second.pop_back();
      pooled_bytes.fetch_sub(static_cast<int64_t>(it->first));
    }
  }
}

constexpr size_t kHugePage = size_t{2} << 20;

// A new mapping of cls + kPoolHeader bytes (nullptr when the system refuses one). With `huge`, its data (one header
// page in) starts on a 2 MiB boundary and the range asks for transparent huge pages, so every whole 2 MiB of the
// block can be one: mapped with 2 MiB to spare, the spare head and tail unmapped again. The advice is only advice:
// a kernel without transparent huge pages (or with them off) refuses it, and the block works as is.
char *map_block(size_t cls, bool huge) {
  const size_t length = cls + kPoolHeader;
  if (!huge) {
    void *mapped = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return mapped == MAP_FAILED ? nullptr : static_cast<char *>(mapped);
  }
  void *raw = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t first = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t data = (first + kPoolHeader + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
  char *start = reinterpret_cast<char *>(data - kPoolHeader);
  const size_t head = static_cast<size_t>(start - static_cast<char *>(raw));
  const size_t tail = kHugePage - head;  // head + length + tail == the mapping's length
  if (head > 0) munmap(raw, head);
  if (tail > 0) munmap(start + length, tail);
  (void)madvise(start, length, MADV_HUGEPAGE);
  return start;
}

// A block of at least class `cls`; writes the class of the block taken.
char *pool_take(size_t cls, size_t *taken) {
  *taken = cls;
  {
    std::lock_guard<std::mutex> lock(pool_mutex);
    // the smallest free block that fits, up to twice the size asked: a free block of a larger class serves
    // before a new one is mapped beside it (the block keeps its own class)
    for (auto it = pool_free.lower_bound(cls); it != pool_free.end() && it->first <= 2 * cls; ++it) {
      if (it->second.empty()) continue;
      char *block = it->second.back();
      it->second.pop_back();
      pooled_bytes.fetch_sub(static_cast<int64_t>(it->first));
      pool_hits.fetch_add(1, std::memory_order_relaxed);
      *taken = it->first;
      return block;
    }
  }
  const bool huge = pool_huge_pages.load(std::memory_order_relaxed) && cls >= kHugePage;
  char *mapped = map_block(cls, huge);
  if (mapped == nullptr) {
    // out of address space or memory: give the pool's free blocks back and try once more
    {
      std::lock_guard<std::mutex> lock(pool_mutex);
      shrink_pool_locked(0);
    }
    mapped = map_block(cls, huge);
    if (mapped == nullptr) throw std::bad_alloc();
  }
  pool_maps.fetch_add(1, std::memory_order_relaxed);
  return mapped;
}

void pool_give(char *block, size_t cls) {
  std::lock_guard<std::mutex> lock(pool_mutex);
  int64_t limit = pool_limit.load();
  if (!pool_enabled.load() || static_cast<int64_t>(cls) > limit) {  // off: blocks in use go back to the system
    unmap_block(block, cls);
    return;
  }
  if (pooled_bytes.load() + static_cast<int64_t>(cls) > limit) shrink_pool_locked(limit - static_cast<int64_t>(cls));
  pool_free[cls].push_back(block);
  pooled_bytes.fetch_add(static_cast<int64_t>(cls));
}

// The allocation recording: a fixed array of events filled lock-free while `recording` is on. `writers` counts
// the allocations and frees between their check of `recording` and the end of their write, so stop can wait for
// them before the events are read or freed.
std::atomic<bool> recording{false};
std::atomic<int64_t> writers{0};
std::atomic<int64_t> record_next{0};
std::atomic<int64_t> record_dropped{0};
int64_t record_capacity = 0;
psd_alloc_event *record_events = nullptr;  // malloc'd: not counted by this allocator
std::atomic<int32_t> last_module{0}, last_op{0};
// Tags a thread set before the current recording started are stale: such a thread counts as untagged.
std::atomic<int64_t> record_epoch{1};
thread_local int32_t thread_module = 0, thread_op = 0;
thread_local int64_t thread_epoch = 0;

void record(void *address, int64_t bytes) {
  if (!recording.load()) return;
  writers.fetch_add(1);
  if (recording.load()) {
    // the clock before the slot: events in slot order are then in time order but for threads racing within a few ns
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t index = record_next.fetch_add(1);
    if (index < record_capacity) {
      psd_alloc_event &e = record_events[index];
      e.time_ns = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
      e.address = reinterpret_cast<int64_t>(address);
      e.bytes = bytes;
      bool tagged = thread_epoch == record_epoch.load(std::memory_order_relaxed);
      e.module = tagged ? thread_module : last_module.load(std::memory_order_relaxed);
      e.op = tagged ? thread_op : last_op.load(std::memory_order_relaxed);
    } else {
      record_dropped.fetch_add(1);
    }
  }
  writers.fetch_sub(1);
}

// Serialises the control functions (start, stop, read, clear) against each other; the writers never take it.
std::mutex &record_control = *new std::mutex;

void stop_recording() {
  recording.store(false);
  while (writers.load() != 0) sched_yield();
}

void counting_free(void *data) {
  if (data == nullptr) return;
  char *header = static_cast<char *>(data) - kHeader;
  int64_t size = reinterpret_cast<int64_t *>(header)[0];
  int64_t cls = reinterpret_cast<int64_t *>(header)[1];
  record(data, -size);
  allocated_bytes.fetch_sub(size, std::memory_order_relaxed);
  free_count.fetch_add(1, std::memory_order_relaxed);
  if (cls > 0)
    pool_give(static_cast<char *>(data) - kPoolHeader, static_cast<size_t>(cls));
  else
    c10::free_cpu(header);
}

struct CountingAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t nbytes) const override {
    bool pooled = pool_enabled.load(std::memory_order_relaxed) && nbytes >= kPoolMin;
    size_t cls = 0;
    char *data = pooled ? pool_take(size_class(nbytes), &cls) + kPoolHeader : static_cast<char *>(c10::alloc_cpu(nbytes + kHeader)) + kHeader;
    char *header = data - kHeader;
    reinterpret_cast<int64_t *>(header)[0] = static_cast<int64_t>(nbytes);
    reinterpret_cast<int64_t *>(header)[1] = static_cast<int64_t>(cls);
    int64_t now = allocated_bytes.fetch_add(static_cast<int64_t>(nbytes), std::memory_order_relaxed) +
                  static_cast<int64_t>(nbytes);
    int64_t peak = peak_bytes.load(std::memory_order_relaxed);
    while (now > peak && !peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    allocation_count.fetch_add(1, std::memory_order_relaxed);
    record(data, static_cast<int64_t>(nbytes));
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

int32_t psd_memory_set_pool(bool enabled, int64_t limit_bytes) {
  return guarded([&] {
    if (limit_bytes < 0) throw std::invalid_argument("pool limit must be >= 0, got " + std::to_string(limit_bytes));
    std::lock_guard<std::mutex> lock(pool_mutex);
    pool_limit.store(limit_bytes);
    pool_enabled.store(enabled);
    shrink_pool_locked(enabled ? limit_bytes : 0);
  });
}

int32_t psd_memory_set_huge_pages(bool enabled) {
  return guarded([&] { pool_huge_pages.store(enabled); });
}

int32_t psd_memory_release_pool(int64_t *ret_released) {
  return guarded([&] {
    std::lock_guard<std::mutex> lock(pool_mutex);
    int64_t before = pooled_bytes.load();
    shrink_pool_locked(0);
    if (ret_released != nullptr) *ret_released = before - pooled_bytes.load();
  });
}

int32_t psd_memory_get_pool_stats(psd_pool_stats *ret_stats) {
  return guarded([&] {
    out(ret_stats);
    ret_stats->enabled = pool_enabled.load();
    ret_stats->limit_bytes = pool_limit.load();
    ret_stats->free_bytes = pooled_bytes.load();
    ret_stats->hits = pool_hits.load();
    ret_stats->maps = pool_maps.load();
  });
}

int32_t psd_alloc_record_start(int64_t capacity, int64_t *ret_allocated_bytes) {
  return guarded([&] {
    std::lock_guard<std::mutex> lock(record_control);
    if (capacity < 1) throw std::invalid_argument("recording capacity must be >= 1 event, got " + std::to_string(capacity));
    stop_recording();
    auto *events = static_cast<psd_alloc_event *>(std::malloc(static_cast<size_t>(capacity) * sizeof(psd_alloc_event)));
    if (events == nullptr) throw std::runtime_error("cannot reserve " + std::to_string(capacity) + " recording events");
    std::free(record_events);
    record_events = events;
    record_capacity = capacity;
    record_next.store(0);
    record_dropped.store(0);
    record_epoch.fetch_add(1);
    last_module.store(0);
    last_op.store(0);
    recording.store(true);
    // what the allocator held as the recording began (allocations in flight may land on either side of it)
    if (ret_allocated_bytes != nullptr) *ret_allocated_bytes = allocated_bytes.load();
  });
}

int32_t psd_alloc_record_stop(int64_t *ret_events, int64_t *ret_dropped) {
  return guarded([&] {
    std::lock_guard<std::mutex> lock(record_control);
    stop_recording();
    *out(ret_events) = std::min(record_next.load(), record_capacity);
    *out(ret_dropped) = record_dropped.load();
  });
}

int32_t psd_alloc_record_read(psd_alloc_event *events, int64_t offset, int64_t max, int64_t *ret_copied) {
  return guarded([&] {
    std::lock_guard<std::mutex> lock(record_control);
    if (recording.load()) throw std::logic_error("stop the recording before reading it");
    if (offset < 0 || max < 0) throw std::invalid_argument("offset and max must be >= 0, got " + std::to_string(offset) + ", " + std::to_string(max));
    int64_t total = std::min(record_next.load(), record_capacity);
    int64_t n = offset >= total ? 0 : std::min(max, total - offset);
    if (n > 0) std::memcpy(out(events), record_events + offset, static_cast<size_t>(n) * sizeof(psd_alloc_event));
    *out(ret_copied) = n;
  });
}

int32_t psd_alloc_record_clear(void) {
  return guarded([&] {
    std::lock_guard<std::mutex> lock(record_control);
    stop_recording();
    std::free(record_events);
    record_events = nullptr;
    record_capacity = 0;
    record_next.store(0);
    record_dropped.store(0);
  });
}

void psd_alloc_record_tag(int32_t module, int32_t op) {
  thread_module = module;
  thread_op = op;
  thread_epoch = record_epoch.load(std::memory_order_relaxed);
  last_module.store(module, std::memory_order_relaxed);
  last_op.store(op, std::memory_order_relaxed);
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
