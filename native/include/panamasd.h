/*
 * panamasd.h: the whole C ABI of panama-sd's shim over libtorch.
 *
 * Rules (the Java bindings are generated from this file, so it stays plain C99):
 *  - Every fallible call returns an int32_t status (psd_status). PSD_OK is 0. On any other value the
 *    message is available from psd_last_error() on the same thread. No C++ exception crosses this ABI.
 *  - Results go out through trailing ret_* pointers. A psd_tensor* written to a ret_* pointer is a NEW
 *    reference: the caller owns it and frees it with psd_tensor_free. Tensor arguments are BORROWED.
 *  - Free functions accept NULL.
 *  - dtype, device and memory-format values come from getter functions: their raw numbers are not ABI.
 *  - A changed signature becomes a new function with a _v2 suffix; PSD_ABI_VERSION counts such changes.
 *  - Grad mode and inference mode are per thread, as in libtorch.
 */
#ifndef PANAMASD_H
#define PANAMASD_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PSD_ABI_VERSION 2
#define PSD_MAX_DIMS 16

typedef enum psd_status {
    PSD_OK = 0,
    PSD_ERR_TORCH = 1,    /* c10::Error and its subclasses: libtorch's own message */
    PSD_ERR_ARGUMENT = 2, /* a bad argument caught by the shim itself (NULL handle, bad count) */
    PSD_ERR_STD = 3,      /* another std::exception */
    PSD_ERR_UNKNOWN = 4,  /* anything else that was thrown */
    PSD_ERR_UNAVAILABLE = 5 /* a feature this libtorch was built without (e.g. oneDNN); the message names it */
} psd_status;

/* Tags of psd_value, the boxed argument and result of psd_op_call. */
typedef enum psd_value_tag {
    PSD_VALUE_NONE = 0,
    PSD_VALUE_TENSOR = 1,
    PSD_VALUE_INT = 2,
    PSD_VALUE_DOUBLE = 3,
    PSD_VALUE_BOOL = 4,
    PSD_VALUE_INT_LIST = 5,
    PSD_VALUE_SCALAR_TYPE = 6,
    PSD_VALUE_STRING = 7,
    PSD_VALUE_TENSOR_LIST = 8
} psd_value_tag;

typedef enum psd_interp_mode {
    PSD_INTERP_NEAREST = 0,
    PSD_INTERP_BILINEAR = 1,
    PSD_INTERP_BICUBIC = 2
} psd_interp_mode;

typedef enum psd_pad_mode {
    PSD_PAD_CONSTANT = 0,
    PSD_PAD_REFLECT = 1,
    PSD_PAD_REPLICATE = 2
} psd_pad_mode;

typedef enum psd_reduction {
    PSD_REDUCTION_NONE = 0,
    PSD_REDUCTION_MEAN = 1,
    PSD_REDUCTION_SUM = 2
} psd_reduction;

/* Opaque handles. */
typedef struct psd_tensor psd_tensor;
typedef struct psd_generator psd_generator;
typedef struct psd_op psd_op;
typedef struct psd_optimizer psd_optimizer;
typedef struct psd_inference_guard psd_inference_guard;
typedef struct psd_process_group psd_process_group;
typedef struct psd_grad_reducer psd_grad_reducer;

/* A boxed value. In arguments every pointer is borrowed. In results a TENSOR is a new reference, a
 * TENSOR_LIST result is spread into consecutive TENSOR values, and an INT_LIST's ints are borrowed
 * thread-local memory, valid until the next psd_op_call on the same thread. */
typedef struct psd_value {
    int32_t tag;               /* psd_value_tag */
    int32_t reserved;          /* zero */
    int64_t i;                 /* INT, BOOL (0 or 1), SCALAR_TYPE (a psd_dtype_* value) */
    double d;                  /* DOUBLE */
    psd_tensor *tensor;        /* TENSOR */
    const int64_t *ints;       /* INT_LIST */
    psd_tensor *const *tensors;/* TENSOR_LIST */
    int64_t len;               /* element count of ints or tensors */
    const char *str;           /* STRING, NUL-terminated */
} psd_value;

/* Native memory accounting. Bytes are those held by libtorch's CPU allocator (the counting allocator
 * installed by psd_runtime_init); tensors made from caller memory (psd_tensor_from_blob) are not counted. */
typedef struct psd_memory_stats {
    int64_t live_tensors;     /* psd_tensor handles not yet freed */
    int64_t allocated_bytes;  /* bytes the CPU allocator holds now */
    int64_t peak_bytes;       /* high-water mark of allocated_bytes since start or the last reset */
    int64_t allocations;      /* number of allocations since start */
    int64_t frees;            /* number of frees since start */
} psd_memory_stats;

/* The block pool of the counting allocator: tensors of 1 MiB or more live in blocks mapped once and reused
 * by size class (whole MiB to 16 MiB, then 1/8 power-of-two steps), so their pages stay resident instead of
 * being mapped, zero-filled and unmapped on every call; free blocks are kept up to limit_bytes. */
typedef struct psd_pool_stats {
    bool enabled;
    int64_t limit_bytes;      /* most bytes of free blocks the pool keeps */
    int64_t free_bytes;       /* bytes of free blocks it holds now (mapped, not counted in allocated_bytes) */
    int64_t hits;             /* allocations served by a free block */
    int64_t maps;             /* blocks mapped from the system */
} psd_pool_stats;

/* One event of an allocation recording (psd_alloc_record_*): the counting allocator appends one per allocation
 * and one per free while a recording is on, with the calling thread's tags. */
typedef struct psd_alloc_event {
    int64_t time_ns;          /* CLOCK_MONOTONIC nanoseconds (the clock of Java's System.nanoTime on Linux) */
    int64_t address;          /* the data pointer: pairs a free with its allocation */
    int64_t bytes;            /* > 0: an allocation of that many bytes; < 0: a free of that many */
    int32_t module;           /* the thread's module tag at the time (psd_alloc_record_tag), 0: none */
    int32_t op;               /* the thread's op tag at the time, 0: none */
} psd_alloc_event;

/* ---------------------------------------------------------------- library and runtime */
int32_t psd_abi_version(void);
/* Borrowed, thread-local: the message of the last failed call on this thread ("" if none). */
const char *psd_last_error(void);
/* Does nothing; measures the raw cost of one call through the bindings. */
int32_t psd_noop(void);
/* Installs the counting CPU allocator (idempotent) and applies malloc thresholds when > 0. */
int32_t psd_runtime_init(int64_t mmap_threshold, int64_t trim_threshold);
/* As psd_runtime_init, with the allocator swap optional: counting_allocator false leaves libtorch's CPU
 * allocator in place (allocated/peak bytes then stay 0). Each effect is process-wide. */
int32_t psd_runtime_init_v2(bool counting_allocator, int64_t mmap_threshold, int64_t trim_threshold);

/* For process exit: from now on every call fails (status PSD_ERR_STD, "shutting down"); waits up to
 * timeout_ms for the calls in flight on other threads to return, and writes how many are still running.
 * A JVM shutdown hook calls it, so exit() never tears libtorch down under a running call. */
int32_t psd_runtime_shutdown(int64_t timeout_ms, int64_t *ret_in_flight);
/* Borrowed static strings. */
int32_t psd_runtime_torch_version(const char **ret_version);
/* Borrowed thread-local strings, valid until the next call of the same function on this thread. */
int32_t psd_runtime_build_info(const char **ret_info);
int32_t psd_runtime_blas_info(const char **ret_info);
/* Hands freed malloc memory back to the system (glibc's malloc_trim, which also releases whole free pages
 * inside the heap); writes 1 when something was released. A no-op writing 0 without glibc. */
int32_t psd_runtime_trim_heap(int32_t *ret_released);
int32_t psd_runtime_get_num_threads(int32_t *ret_threads);
int32_t psd_runtime_set_num_threads(int32_t threads);
int32_t psd_runtime_manual_seed(uint64_t seed);
int32_t psd_runtime_cuda_device_count(int32_t *ret_count);
/* 1 when this libtorch has a fused scaled-dot-product attention kernel, 0 when the shim uses the math path. */
int32_t psd_runtime_has_fused_sdpa(int32_t *ret_has);
/* The shim's fused ("flash") attention kernel of psd_tensor_scaled_dot_product_attention on a libtorch without a fused
 * one (1.x): CPU float32 inputs (bfloat16 where the CPU has AVX512_BF16) without mask or dropout and with no graph to
 * record (causal or not) are computed by blocks of 64 queries x 256 keys with a running maximum and sum, in
 * register-tiled SIMD kernels for AVX-512 or AVX2 + FMA chosen from CPUID (heads of up to 256 features). The other
 * path is the math path (query chunks of at most 64 MiB of scores, bmm + softmax). Which one runs:
 * psd_runtime_set_attention_choice, process-wide: 0 the math path, 1 the kernels wherever they apply, 2 (the
 * default) per shape the faster, timed on the shape's first call (both paths twice: flash, math, math, flash).
 * set_flash_attention(true / false) is choice 1 / 0; get_flash_attention says whether the kernels may run (choice
 * 1 or 2). */
int32_t psd_runtime_set_flash_attention(bool enabled);
int32_t psd_runtime_get_flash_attention(bool *ret_enabled);
int32_t psd_runtime_set_attention_choice(int32_t choice);
int32_t psd_runtime_get_attention_choice(int32_t *ret_choice);
/* Shapes (dtype, heads, queries, keys, features, value features, causal, threads, kernels) timed so far under choice 2, and how many
 * of them chose the kernels. */
int32_t psd_runtime_attention_timings(int64_t *ret_shapes, int64_t *ret_flash);
/* The attention kernels' revision: raised when a change to them can change which path wins, so that choices
 * kept by an earlier shim (AttentionChoices' file) are timed again. */
#define PSD_ATTENTION_KERNELS 2
/* The choices on record, as rows of 10 int64 values: dtype (c10::ScalarType), heads, queries, keys, features, value
 * features, causal, threads, kernels (as psd_runtime_flash_attention_isa), and 1 where the kernels won (0: the math
 * path). Writes up to `capacity` rows and the number on record to ret_count. put_attention_choices puts `count` such
 * rows on record (a shape already known keeps its choice), so that the timings of an earlier process decide alike;
 * clear_attention_choices forgets them all. */
int32_t psd_runtime_attention_choices(int64_t *rows, int64_t capacity, int64_t *ret_count);
int32_t psd_runtime_put_attention_choices(const int64_t *rows, int64_t count);
int32_t psd_runtime_clear_attention_choices(void);
/* The instruction set of the flash attention kernel on this CPU: 2 AVX-512, 1 AVX2 + FMA, 0 none (math path only). */
int32_t psd_runtime_flash_attention_isa(int32_t *ret_isa);
/* Uses an older instruction set's kernels than the CPU's (1 on an AVX-512 CPU: the AVX2 ones), or none (0); more than
 * the CPU has fails with PSD_ERR_ARGUMENT. Process-wide. */
int32_t psd_runtime_set_flash_attention_isa(int32_t isa);
/* The float32 multiply-add peak of libtorch's intra-op threads, measured for about `seconds` (0 to 60) with the
 * widest vectors the flash kernels may use here: GFLOP/s (a multiply-add is 2 FLOPs) and the lanes per vector (16
 * AVX-512, 8 AVX2); 0 and 0 on a CPU with neither. Occupies every intra-op thread while it runs. */
int32_t psd_runtime_fma_peak(double seconds, double *ret_gflops_per_s, int32_t *ret_lanes);
/* The shim's fused kernels for group norm (with or without SiLU), layer norm, psd_tensor_geglu and
 * psd_tensor_scale_shift_silu (per-channel scale and shift of a 4-d input, NCHW or channels-last) and
 * psd_tensor_channel_moments (NCHW or channels-last rows): on contiguous CPU float32 and bfloat16 inputs with no graph to record, on a CPU with the flash attention kernels' instruction set
 * (psd_runtime_flash_attention_isa, which they follow), each is one pass over its input computed in float32 (the
 * norms' statistics in two passes, summed in double). Other inputs take libtorch's ops. On by default; off: every
 * call takes libtorch's ops (for comparisons). Process-wide. */
int32_t psd_runtime_set_fused_kernels(bool enabled);
int32_t psd_runtime_get_fused_kernels(bool *ret_enabled);
/* How many calls the fused kernels have computed in this process (the others took libtorch's ops). */
int32_t psd_runtime_fused_kernel_calls(int64_t *ret_calls);
/* 1 when this libtorch has oneDNN (mkldnn) CPU kernels, so psd_tensor_conv2d_prepack works; 0 otherwise. */
int32_t psd_runtime_has_mkldnn(int32_t *ret_has);
int32_t psd_memory_get_stats(psd_memory_stats *ret_stats);
int32_t psd_memory_reset_peak(void);
/* Turns the block pool on or off (off: blocks freed from now on are unmapped; live ones stay valid) and sets
 * how many bytes of free blocks it keeps, unmapping the largest beyond that. */
int32_t psd_memory_set_pool(bool enabled, int64_t limit_bytes);
/* Whether the pool maps blocks of 2 MiB or more with madvise(MADV_HUGEPAGE), so their first touch faults in
 * transparent huge pages where the kernel has them (/sys/kernel/mm/transparent_hugepage/enabled: always or madvise);
 * blocks mapped from now on. Off until set (the Java bridge sets it at load, on by default). */
int32_t psd_memory_set_huge_pages(bool enabled);
/* Unmaps every free block of the pool; writes the bytes released (ret_released may be NULL). */
int32_t psd_memory_release_pool(int64_t *ret_released);
int32_t psd_memory_get_pool_stats(psd_pool_stats *ret_stats);
/* Allocation recording, for memory profiles. Start clears the previous recording and reserves room for
 * `capacity` events (malloc'd outside the counting allocator, so the recording never counts as the model's), and
 * writes the bytes the allocator held as it began (ret_allocated_bytes may be NULL); events past the capacity are
 * dropped and counted. Stop waits for the allocations in flight to finish writing. Read copies
 * events [offset, offset + max) of the stopped recording into `out` and writes how many it copied. Clear frees the
 * events. Threads that never set a tag (libtorch's intra-op workers) get the tags set last by any thread. */
int32_t psd_alloc_record_start(int64_t capacity, int64_t *ret_allocated_bytes);
int32_t psd_alloc_record_stop(int64_t *ret_events, int64_t *ret_dropped);
int32_t psd_alloc_record_read(psd_alloc_event *out, int64_t offset, int64_t max, int64_t *ret_copied);
int32_t psd_alloc_record_clear(void);
/* Never fails: sets the calling thread's tags for the events it causes from now on. */
void psd_alloc_record_tag(int32_t module, int32_t op);
/* Never fails: the count of live psd_tensor handles. */
int64_t psd_memory_live_tensors(void);

/* dtype, device and memory-format values (c10's numbers, read through getters). */
int32_t psd_dtype_float32(void);
int32_t psd_dtype_float64(void);
int32_t psd_dtype_float16(void);
int32_t psd_dtype_bfloat16(void);
int32_t psd_dtype_int64(void);
int32_t psd_dtype_int32(void);
int32_t psd_dtype_int16(void);
int32_t psd_dtype_int8(void);
int32_t psd_dtype_uint8(void);
int32_t psd_dtype_bool(void);
int32_t psd_dtype_element_size(int32_t dtype, int64_t *ret_size);
int32_t psd_device_cpu(void);
int32_t psd_device_cuda(void);
int32_t psd_memory_format_contiguous(void);
int32_t psd_memory_format_channels_last(void);

/* ---------------------------------------------------------------- generators */
/* device_type: psd_device_*; returns a new generator, free with psd_generator_free. */
int32_t psd_generator_new(int32_t device_type, int32_t device_index, uint64_t seed, psd_generator **ret_generator);
int32_t psd_generator_set_seed(psd_generator *generator, uint64_t seed);
void psd_generator_free(psd_generator *generator);

/* ---------------------------------------------------------------- tensor handles and accessors */
void psd_tensor_free(psd_tensor *tensor);
/* A second handle to the same tensor (shares storage and autograd identity). */
int32_t psd_tensor_share(const psd_tensor *tensor, psd_tensor **ret);
int32_t psd_tensor_dim(const psd_tensor *tensor, int64_t *ret_dim);
/* Writes min(dim, capacity) sizes / strides. */
int32_t psd_tensor_sizes(const psd_tensor *tensor, int64_t *ret_sizes, int64_t capacity);
int32_t psd_tensor_strides(const psd_tensor *tensor, int64_t *ret_strides, int64_t capacity);
int32_t psd_tensor_numel(const psd_tensor *tensor, int64_t *ret_numel);
int32_t psd_tensor_dtype(const psd_tensor *tensor, int32_t *ret_dtype);
int32_t psd_tensor_device(const psd_tensor *tensor, int32_t *ret_device_type, int32_t *ret_device_index);
int32_t psd_tensor_storage_nbytes(const psd_tensor *tensor, int64_t *ret_nbytes);
/* Borrowed: the address of the first element; valid while any handle to the storage lives. */
int32_t psd_tensor_data_ptr(const psd_tensor *tensor, void **ret_data);
int32_t psd_tensor_is_contiguous(const psd_tensor *tensor, int32_t memory_format, bool *ret_contiguous);
/* The tensor's version counter: it grows with every in-place change (an optimizer step, copy_), so a cache
 * derived from the tensor can tell that it is stale. -1 for an inference tensor, which has none. */
int32_t psd_tensor_version(const psd_tensor *tensor, int64_t *ret_version);
/* A hint that the tensor's memory will not be read for a while: for memory wrapped from outside libtorch
 * (psd_tensor_from_blob, e.g. a memory-mapped checkpoint), the kernel reclaims the pages wholly inside its storage
 * (madvise MADV_PAGEOUT). Clean pages of a mapped file leave the resident set and are read from the file again on
 * the next access; written pages are kept or swapped, never lost. Writes the bytes advised (0 for the allocator's
 * memory, off the CPU, or where the kernel has no MADV_PAGEOUT). */
int32_t psd_tensor_page_out(const psd_tensor *tensor, int64_t *ret_bytes);
/* Whether the tensor's memory was wrapped from outside libtorch (psd_tensor_from_blob: a mapped file, a caller's
   arena) rather than allocated by it: only such memory can leave the resident set (psd_tensor_page_out). */
int32_t psd_tensor_is_external(const psd_tensor *tensor, bool *ret_external);
int32_t psd_tensor_item_double(const psd_tensor *tensor, double *ret_value);
int32_t psd_tensor_item_int64(const psd_tensor *tensor, int64_t *ret_value);

/* Zero copy from caller memory. The tensor refers to data; when libtorch drops its last reference to
 * that storage, release_token is queued, on whichever thread dropped it (a libtorch worker, process exit),
 * without calling out of the shim; psd_blob_drain_released takes queued tokens (up to capacity, their
 * count in ret_count). With a release callback set (psd_set_release_callback, NULL clears it), the
 * storage calls it instead. strides may be NULL (contiguous). */
int32_t psd_set_release_callback(void *callback);
int32_t psd_tensor_from_blob(void *data, const int64_t *sizes, int64_t ndim, const int64_t *strides, int32_t dtype,
                             int64_t release_token, psd_tensor **ret);
int32_t psd_blob_drain_released(int64_t *ret_tokens, int64_t capacity, int64_t *ret_count);

/* ---------------------------------------------------------------- creation */
int32_t psd_tensor_empty(const int64_t *sizes, int64_t ndim, int32_t dtype, int32_t device_type, int32_t device_index,
                         psd_tensor **ret);
int32_t psd_tensor_zeros(const int64_t *sizes, int64_t ndim, int32_t dtype, int32_t device_type, int32_t device_index,
                         psd_tensor **ret);
int32_t psd_tensor_ones(const int64_t *sizes, int64_t ndim, int32_t dtype, int32_t device_type, int32_t device_index,
                        psd_tensor **ret);
int32_t psd_tensor_full(const int64_t *sizes, int64_t ndim, double value, int32_t dtype, int32_t device_type,
                        int32_t device_index, psd_tensor **ret);
int32_t psd_tensor_arange(double start, double end, double step, int32_t dtype, int32_t device_type,
                          int32_t device_index, psd_tensor **ret);
int32_t psd_tensor_linspace(double start, double end, int64_t steps, int32_t dtype, int32_t device_type,
                            int32_t device_index, psd_tensor **ret);
/* generator may be NULL (libtorch's default generator). */
int32_t psd_tensor_randn(const int64_t *sizes, int64_t ndim, int32_t dtype, int32_t device_type, int32_t device_index,
                         psd_generator *generator, psd_tensor **ret);
int32_t psd_tensor_rand(const int64_t *sizes, int64_t ndim, int32_t dtype, int32_t device_type, int32_t device_index,
                        psd_generator *generator, psd_tensor **ret);
int32_t psd_tensor_randint(int64_t low, int64_t high, const int64_t *sizes, int64_t ndim, int32_t dtype,
                           int32_t device_type, int32_t device_index, psd_generator *generator, psd_tensor **ret);
int32_t psd_tensor_randn_like(const psd_tensor *tensor, psd_generator *generator, psd_tensor **ret);

/* ---------------------------------------------------------------- conversion and copies */
int32_t psd_tensor_to_dtype(const psd_tensor *tensor, int32_t dtype, psd_tensor **ret);
int32_t psd_tensor_to_device(const psd_tensor *tensor, int32_t device_type, int32_t device_index, psd_tensor **ret);
int32_t psd_tensor_clone(const psd_tensor *tensor, psd_tensor **ret);
int32_t psd_tensor_contiguous(const psd_tensor *tensor, int32_t memory_format, psd_tensor **ret);
/* In place: dst <- src (broadcast, dtype conversion). */
int32_t psd_tensor_copy_(psd_tensor *dst, const psd_tensor *src);
int32_t psd_tensor_fill_(psd_tensor *dst, double value);
/* In place: dst <- dst + alpha * src (src broadcasts to dst's shape). */
int32_t psd_tensor_add_(psd_tensor *dst, const psd_tensor *src, double alpha);

/* ---------------------------------------------------------------- elementwise */
int32_t psd_tensor_add(const psd_tensor *a, const psd_tensor *b, double alpha, psd_tensor **ret);
int32_t psd_tensor_sub(const psd_tensor *a, const psd_tensor *b, double alpha, psd_tensor **ret);
int32_t psd_tensor_mul(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_div(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_pow(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_maximum(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_minimum(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_add_scalar(const psd_tensor *a, double b, psd_tensor **ret);
int32_t psd_tensor_mul_scalar(const psd_tensor *a, double b, psd_tensor **ret);
int32_t psd_tensor_div_scalar(const psd_tensor *a, double b, psd_tensor **ret);
int32_t psd_tensor_pow_scalar(const psd_tensor *a, double exponent, psd_tensor **ret);
/* b - a */
int32_t psd_tensor_rsub_scalar(const psd_tensor *a, double b, psd_tensor **ret);
int32_t psd_tensor_eq(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_ne(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_lt(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_le(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_gt(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_ge(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_eq_scalar(const psd_tensor *a, double b, psd_tensor **ret);
int32_t psd_tensor_ne_scalar(const psd_tensor *a, double b, psd_tensor **ret);
int32_t psd_tensor_lt_scalar(const psd_tensor *a, double b, psd_tensor **ret);
int32_t psd_tensor_le_scalar(const psd_tensor *a, double b, psd_tensor **ret);
int32_t psd_tensor_gt_scalar(const psd_tensor *a, double b, psd_tensor **ret);
int32_t psd_tensor_ge_scalar(const psd_tensor *a, double b, psd_tensor **ret);
int32_t psd_tensor_where(const psd_tensor *condition, const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
/* A bound is ignored when its has_* flag is false. */
int32_t psd_tensor_clamp(const psd_tensor *a, bool has_min, double min, bool has_max, double max, psd_tensor **ret);
int32_t psd_tensor_neg(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_exp(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_log(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_sqrt(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_rsqrt(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_abs(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_sin(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_cos(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_reciprocal(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_floor(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_round(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_sign(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_logical_not(const psd_tensor *a, psd_tensor **ret);

/* ---------------------------------------------------------------- activations */
int32_t psd_tensor_silu(const psd_tensor *a, psd_tensor **ret);
/* tanh_approximation false: the exact erf form. */
int32_t psd_tensor_gelu(const psd_tensor *a, bool tanh_approximation, psd_tensor **ret);
/* Per sample and channel of a 4-d input (batch, channels, height, width), any strides: the sum of its values and the
 * sum of their squares, accumulated in double, as a (2, batch, channels) float64 tensor (a group norm's statistics
 * gathered band by band). */
int32_t psd_tensor_channel_moments(const psd_tensor *input, psd_tensor **ret);
/* GEGLU's activation: input (..., 2n) holds a value half and a gate half along its last dimension; the result
 * (..., n) is value * gelu(gate) with the exact erf, as diffusers' GEGLU computes after its projection. */
int32_t psd_tensor_geglu(const psd_tensor *input, psd_tensor **ret);
int32_t psd_tensor_relu(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_leaky_relu(const psd_tensor *a, double negative_slope, psd_tensor **ret);
int32_t psd_tensor_sigmoid(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_tanh(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_softmax(const psd_tensor *a, int64_t dim, psd_tensor **ret);
int32_t psd_tensor_log_softmax(const psd_tensor *a, int64_t dim, psd_tensor **ret);

/* ---------------------------------------------------------------- reductions (ndims 0 = all dims) */
int32_t psd_tensor_sum(const psd_tensor *a, const int64_t *dims, int64_t ndims, bool keepdim, psd_tensor **ret);
int32_t psd_tensor_mean(const psd_tensor *a, const int64_t *dims, int64_t ndims, bool keepdim, psd_tensor **ret);
/* correction 1 = unbiased (Bessel), 0 = population. */
int32_t psd_tensor_var(const psd_tensor *a, const int64_t *dims, int64_t ndims, int64_t correction, bool keepdim,
                       psd_tensor **ret);
int32_t psd_tensor_std(const psd_tensor *a, const int64_t *dims, int64_t ndims, int64_t correction, bool keepdim,
                       psd_tensor **ret);
/* ret_indices may be NULL. */
int32_t psd_tensor_max_dim(const psd_tensor *a, int64_t dim, bool keepdim, psd_tensor **ret_values,
                           psd_tensor **ret_indices);
int32_t psd_tensor_min_dim(const psd_tensor *a, int64_t dim, bool keepdim, psd_tensor **ret_values,
                           psd_tensor **ret_indices);
int32_t psd_tensor_max_all(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_min_all(const psd_tensor *a, psd_tensor **ret);
int32_t psd_tensor_argmax(const psd_tensor *a, int64_t dim, bool keepdim, psd_tensor **ret);

/* ---------------------------------------------------------------- linear algebra and layers */
int32_t psd_tensor_matmul(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
int32_t psd_tensor_bmm(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret);
/* beta * input + alpha * (a @ b). With beta == 0 the input is not read (libtorch 1.13 may read it). */
int32_t psd_tensor_baddbmm(const psd_tensor *input, const psd_tensor *a, const psd_tensor *b, double beta, double alpha,
                           psd_tensor **ret);
/* bias may be NULL. */
int32_t psd_tensor_linear(const psd_tensor *input, const psd_tensor *weight, const psd_tensor *bias, psd_tensor **ret);
/* stride, padding, dilation: 2 values each. */
int32_t psd_tensor_conv2d(const psd_tensor *input, const psd_tensor *weight, const psd_tensor *bias,
                          const int64_t *stride, const int64_t *padding, const int64_t *dilation, int64_t groups,
                          psd_tensor **ret);
int32_t psd_tensor_conv_transpose2d(const psd_tensor *input, const psd_tensor *weight, const psd_tensor *bias,
                                    const int64_t *stride, const int64_t *padding, const int64_t *output_padding,
                                    int64_t groups, const int64_t *dilation, psd_tensor **ret);
/* oneDNN convolution with a prepacked weight, for inference only (no autograd: oneDNN tensors record no graph).
 * psd_tensor_conv2d_prepack reorders a dense float32 or bfloat16 CPU conv weight (out, in / groups, kh, kw) once into
 * oneDNN's blocked layout for these stride / padding / dilation / groups and returns it as an opaque oneDNN
 * tensor (a new handle like any other, freed with psd_tensor_free; its sizes read as the weight's, it has no
 * strides or data pointer, and only psd_tensor_conv2d_prepacked takes it). psd_tensor_conv2d_prepacked is
 * conv2d on a dense CPU input (any strides; computed as contiguous NCHW) with such a weight, the same stride /
 * padding / dilation / groups, and an optional dense bias (NULL: none), input, weight and bias of one dtype; the output is a dense, contiguous
 * NCHW tensor. It fails (PSD_ERR_ARGUMENT) when grad mode is on and the input or bias requires grad.
 * Without oneDNN in this libtorch both fail with PSD_ERR_UNAVAILABLE. */
int32_t psd_tensor_conv2d_prepack(const psd_tensor *weight, const int64_t *stride, const int64_t *padding,
                                  const int64_t *dilation, int64_t groups, psd_tensor **ret);
int32_t psd_tensor_conv2d_prepacked(const psd_tensor *input, const psd_tensor *packed_weight, const psd_tensor *bias,
                                    const int64_t *stride, const int64_t *padding, const int64_t *dilation,
                                    int64_t groups, psd_tensor **ret);
/* weight and bias may be NULL. */
int32_t psd_tensor_group_norm(const psd_tensor *input, int64_t num_groups, const psd_tensor *weight,
                              const psd_tensor *bias, double eps, psd_tensor **ret);
/* SiLU(group_norm(input)) in one call: the SiLU runs in place on the norm's output unless autograd needs it. */
int32_t psd_tensor_group_norm_silu(const psd_tensor *input, int64_t num_groups, const psd_tensor *weight,
                                   const psd_tensor *bias, double eps, psd_tensor **ret);
/* SiLU(input * scale + shift) with one allocation (scale and shift broadcast, e.g. a norm's per-channel affine
   map): the SiLU runs in place unless autograd needs its input. A bfloat16 / float16 input is mapped in float32
   and the result rounded once to its dtype. */
int32_t psd_tensor_scale_shift_silu(const psd_tensor *input, const psd_tensor *scale, const psd_tensor *shift,
                                    psd_tensor **ret);
/* A floating-point weight quantized per row (dim 0: a layer's output channels) to int8 in [-127, 127]: scale[r]
   (a float32 vector the caller allocates, written here) = the row's largest magnitude / 127 (1 for an all-zero row or one whose step underflows),
   values = round(weight[r, ...] / scale[r]), ties to even. A row with a non-finite value fails naming it. */
int32_t psd_tensor_quantize_rows(const psd_tensor *weight, const psd_tensor *scale, psd_tensor **ret);
/* A weight stored as int8 rows with a float32 scale per row (dim 0: a layer's output channels), as dtype
   (float32 or bfloat16: rounded to nearest even): out[r, ...] = quantized[r, ...] * scale[r]. */
int32_t psd_tensor_dequantize_rows(const psd_tensor *quantized, const psd_tensor *scale, int32_t dtype, psd_tensor **ret);
int32_t psd_tensor_layer_norm(const psd_tensor *input, const int64_t *normalized_shape, int64_t ndims,
                              const psd_tensor *weight, const psd_tensor *bias, double eps, psd_tensor **ret);
int32_t psd_tensor_embedding(const psd_tensor *weight, const psd_tensor *indices, psd_tensor **ret);
/* Output size (out_h, out_w) if both > 0, else scale factors. align_corners: -1 unset, 0 false, 1 true. */
int32_t psd_tensor_interpolate(const psd_tensor *input, int64_t out_h, int64_t out_w, double scale_h, double scale_w,
                               int32_t mode, int32_t align_corners, psd_tensor **ret);
int32_t psd_tensor_avg_pool2d(const psd_tensor *input, const int64_t *kernel, const int64_t *stride,
                              const int64_t *padding, bool ceil_mode, bool count_include_pad, psd_tensor **ret);
int32_t psd_tensor_max_pool2d(const psd_tensor *input, const int64_t *kernel, const int64_t *stride,
                              const int64_t *padding, const int64_t *dilation, bool ceil_mode, psd_tensor **ret);
/* pads: (left, right, top, bottom, ...) pairs from the last dim backwards, as torch.nn.functional.pad. */
int32_t psd_tensor_pad(const psd_tensor *input, const int64_t *pads, int64_t npads, int32_t mode, double value,
                       psd_tensor **ret);

/* ---------------------------------------------------------------- shape and indexing */
int32_t psd_tensor_reshape(const psd_tensor *a, const int64_t *sizes, int64_t ndim, psd_tensor **ret);
int32_t psd_tensor_view(const psd_tensor *a, const int64_t *sizes, int64_t ndim, psd_tensor **ret);
int32_t psd_tensor_permute(const psd_tensor *a, const int64_t *dims, int64_t ndim, psd_tensor **ret);
int32_t psd_tensor_transpose(const psd_tensor *a, int64_t dim0, int64_t dim1, psd_tensor **ret);
int32_t psd_tensor_expand(const psd_tensor *a, const int64_t *sizes, int64_t ndim, psd_tensor **ret);
int32_t psd_tensor_repeat(const psd_tensor *a, const int64_t *repeats, int64_t ndim, psd_tensor **ret);
int32_t psd_tensor_squeeze(const psd_tensor *a, int64_t dim, psd_tensor **ret);
int32_t psd_tensor_unsqueeze(const psd_tensor *a, int64_t dim, psd_tensor **ret);
int32_t psd_tensor_flatten(const psd_tensor *a, int64_t start_dim, int64_t end_dim, psd_tensor **ret);
int32_t psd_tensor_cat(psd_tensor *const *tensors, int64_t count, int64_t dim, psd_tensor **ret);
int32_t psd_tensor_stack(psd_tensor *const *tensors, int64_t count, int64_t dim, psd_tensor **ret);
/* Writes up to capacity new handles into ret_tensors and the number of pieces into ret_count. When the
 * count exceeds capacity nothing is written but ret_count, and the status is PSD_ERR_ARGUMENT. */
int32_t psd_tensor_chunk(const psd_tensor *a, int64_t chunks, int64_t dim, psd_tensor **ret_tensors, int64_t capacity,
                         int64_t *ret_count);
int32_t psd_tensor_split(const psd_tensor *a, int64_t split_size, int64_t dim, psd_tensor **ret_tensors,
                         int64_t capacity, int64_t *ret_count);
int32_t psd_tensor_narrow(const psd_tensor *a, int64_t dim, int64_t start, int64_t length, psd_tensor **ret);
int32_t psd_tensor_slice(const psd_tensor *a, int64_t dim, int64_t start, int64_t end, int64_t step, psd_tensor **ret);
int32_t psd_tensor_index_select(const psd_tensor *a, int64_t dim, const psd_tensor *index, psd_tensor **ret);
int32_t psd_tensor_gather(const psd_tensor *a, int64_t dim, const psd_tensor *index, psd_tensor **ret);

/* ---------------------------------------------------------------- training and attention */
/* Inverted dropout: zeroes with probability p and scales by 1 / (1 - p); identity when train is false. */
int32_t psd_tensor_dropout(const psd_tensor *a, double p, bool train, psd_generator *generator, psd_tensor **ret);
int32_t psd_tensor_mse_loss(const psd_tensor *a, const psd_tensor *target, int32_t reduction, psd_tensor **ret);
int32_t psd_tensor_l1_loss(const psd_tensor *a, const psd_tensor *target, int32_t reduction, psd_tensor **ret);
/* softmax(q k^T * scale + mask) v over (..., L, E) inputs. mask may be NULL (bool: true keeps; float: added).
 * scale <= 0 means 1 / sqrt(E). */
int32_t psd_tensor_scaled_dot_product_attention(const psd_tensor *q, const psd_tensor *k, const psd_tensor *v,
                                                const psd_tensor *mask, double dropout_p, bool is_causal,
                                                double scale, psd_tensor **ret);

/* ---------------------------------------------------------------- autograd */
int32_t psd_tensor_requires_grad(const psd_tensor *tensor, bool *ret_requires_grad);
int32_t psd_tensor_set_requires_grad(psd_tensor *tensor, bool requires_grad);
/* *ret is NULL when the tensor has no gradient. */
int32_t psd_tensor_grad(const psd_tensor *tensor, psd_tensor **ret);
int32_t psd_tensor_zero_grad(psd_tensor *tensor);
int32_t psd_tensor_detach(const psd_tensor *tensor, psd_tensor **ret);
/* gradient may be NULL for a scalar output. */
int32_t psd_autograd_backward(const psd_tensor *output, const psd_tensor *gradient, bool retain_graph,
                              bool create_graph);
/* Gradients of outputs w.r.t. inputs (torch.autograd.grad). grad_outputs may be NULL; ret_grads receives
 * count_inputs new handles (NULL for an unused input when allow_unused). */
int32_t psd_autograd_grad(psd_tensor *const *outputs, int64_t count_outputs, psd_tensor *const *inputs,
                          int64_t count_inputs, psd_tensor *const *grad_outputs, bool retain_graph, bool create_graph,
                          bool allow_unused, psd_tensor **ret_grads);
int32_t psd_autograd_is_grad_enabled(bool *ret_enabled);
int32_t psd_autograd_set_grad_enabled(bool enabled, bool *ret_previous);
/* Inference mode on this thread until the guard is freed (on the same thread, innermost first). */
int32_t psd_inference_mode_enter(psd_inference_guard **ret_guard);
void psd_inference_mode_exit(psd_inference_guard *guard);
/* Ends the mode; fails (PSD_ERR_ARGUMENT, the guard kept) on another OS thread than the one that entered
 * it, or when it is not the innermost guard of this thread. psd_inference_mode_exit ignores that failure. */
int32_t psd_inference_mode_exit_v2(psd_inference_guard *guard);

/* ---------------------------------------------------------------- optimizers */
int32_t psd_optim_sgd_new(psd_tensor *const *params, int64_t count, double lr, double momentum, double dampening,
                          double weight_decay, bool nesterov, psd_optimizer **ret_optimizer);
int32_t psd_optim_adam_new(psd_tensor *const *params, int64_t count, double lr, double beta1, double beta2, double eps,
                           double weight_decay, bool amsgrad, psd_optimizer **ret_optimizer);
int32_t psd_optim_adamw_new(psd_tensor *const *params, int64_t count, double lr, double beta1, double beta2,
                            double eps, double weight_decay, bool amsgrad, psd_optimizer **ret_optimizer);
int32_t psd_optim_step(psd_optimizer *optimizer);
int32_t psd_optim_zero_grad(psd_optimizer *optimizer);
int32_t psd_optim_set_lr(psd_optimizer *optimizer, double lr);
/* The optimizer's state (moments, step counts) to and from a file in libtorch's archive format. */
int32_t psd_optim_save(const psd_optimizer *optimizer, const char *path);
int32_t psd_optim_load(psd_optimizer *optimizer, const char *path);
void psd_optim_free(psd_optimizer *optimizer);
/* Scales the gradients in place so that their total norm is at most max_norm; returns the norm before. */
int32_t psd_optim_clip_grad_norm(psd_tensor *const *params, int64_t count, double max_norm, double norm_type,
                                 double *ret_total_norm);

/* ---------------------------------------------------------------- distributed (c10d) */
/* Collectives across processes over libtorch's c10d: Gloo for CPU tensors, NCCL for CUDA tensors (only in a
 * shim built against a CUDA libtorch with NCCL). A shim built without c10d (its headers or gloo's missing)
 * keeps these functions; they then fail with PSD_ERR_STD and a message saying so. Every process of a group
 * must make the same collective calls in the same order. A collective that a peer does not join within the
 * group's timeout (a peer died, hangs, or called something else) fails with PSD_ERR_TORCH and a message
 * naming the timeout. */
typedef enum psd_dist_backend {
    PSD_DIST_GLOO = 0,
    PSD_DIST_NCCL = 1
} psd_dist_backend;

typedef enum psd_dist_store {
    PSD_DIST_STORE_TCP = 0,  /* address: the host of rank 0, which serves the store on port */
    PSD_DIST_STORE_FILE = 1  /* address: a file on a file system every process sees; port unused */
} psd_dist_store;

typedef enum psd_dist_reduce_op {
    PSD_DIST_SUM = 0,
    PSD_DIST_MIN = 1,
    PSD_DIST_MAX = 2
} psd_dist_reduce_op;

/* Whether this shim was built with the backend (psd_dist_backend). */
int32_t psd_dist_available(int32_t backend, bool *ret_available);
/* Joins (rank 0: creates) the rendezvous store and the process group; blocks until all world_size processes
 * have joined or timeout_ms passed. timeout_ms also bounds every later collective of the group. */
int32_t psd_dist_new(int32_t backend, int32_t store, const char *address, int32_t port, int32_t rank,
                     int32_t world_size, int64_t timeout_ms, psd_process_group **ret_group);
/* In place over a list of tensors of one dtype and device (flattened into one buffer, one collective). */
int32_t psd_dist_all_reduce(psd_process_group *group, psd_tensor *const *tensors, int64_t count, int32_t op);
int32_t psd_dist_broadcast(psd_process_group *group, psd_tensor *const *tensors, int64_t count, int32_t root);
int32_t psd_dist_barrier(psd_process_group *group);
void psd_dist_free(psd_process_group *group);

/* Averages the gradients of params over the group in buckets of at most bucket_bytes (the first, which backward
 * fills first, at most 1 MiB; a larger parameter gets a bucket of its own). With overlap, each
 * parameter's gradient hook copies its gradient into its bucket during backward, and a full bucket's
 * all-reduce starts at once (buckets start in index order on every process, so the collectives match);
 * without, all buckets are filled and reduced in finish. Each step: one backward, then finish. */
int32_t psd_dist_reducer_new(psd_process_group *group, psd_tensor *const *params, int64_t count, int64_t bucket_bytes,
                             bool overlap, psd_grad_reducer **ret_reducer);
/* Starts what backward did not start, waits for every bucket, and writes the averages into the parameters'
 * .grad. ret_wait_seconds (may be NULL): the time spent waiting here for communication. */
int32_t psd_dist_reducer_finish(psd_grad_reducer *reducer, double *ret_wait_seconds);
/* The number of buckets (ret_buckets) and how many of them backward started in the last step (ret_early). */
int32_t psd_dist_reducer_stats(const psd_grad_reducer *reducer, int64_t *ret_buckets, int64_t *ret_early);
void psd_dist_reducer_free(psd_grad_reducer *reducer);

/* ---------------------------------------------------------------- boxed calls to any ATen operator */
/* Borrowed: operators live as long as the process. overload "" is the default overload. */
int32_t psd_op_find(const char *name, const char *overload, psd_op **ret_op);
/* Borrowed thread-local string: the operator's schema, e.g. "aten::add.Tensor(Tensor self, ...)". */
int32_t psd_op_schema(const psd_op *op, const char **ret_schema);
/* Missing trailing arguments take the schema's defaults. */
int32_t psd_op_call(const psd_op *op, const psd_value *args, int64_t count_args, psd_value *ret_values,
                    int64_t capacity, int64_t *ret_count);

/* ---------------------------------------------------------------- test only */
/* Fault injection for the tests of the shim's own failure paths; nothing else calls these. Nothing fires
 * unless armed: psd_test_inject_fault makes the countdown-th (1 = the next) fault point of this kind on the
 * calling thread throw std::bad_alloc, as the allocation it stands for would, then disarms;
 * PSD_TEST_FAULT_NONE (or countdown <= 0) disarms. */
typedef enum psd_test_fault {
    PSD_TEST_FAULT_NONE = 0,
    PSD_TEST_FAULT_ERROR_MESSAGE = 1,  /* storing a failed call's message (psd_last_error) */
    PSD_TEST_FAULT_OP_RESULT = 2       /* converting one value of a boxed call's results (psd_op_call) */
} psd_test_fault;
int32_t psd_test_inject_fault(int32_t kind, int64_t countdown);
/* A native call that borrows tensor and stays in flight for millis ms (a long kernel, for the tests of what may
 * happen meanwhile); writes whether the tensor was freed while the call ran (which the bridge must prevent). */
int32_t psd_test_hold(const psd_tensor *tensor, int64_t millis, bool *ret_freed);
/* Takes a reference to tensor's storage that is dropped only by the library's static destructors at process
 * exit, as libtorch's own long-lived state may hold one: the last reference to wrapped memory
 * (psd_tensor_from_blob) then goes while the process exits. */
int32_t psd_test_hold_until_exit(const psd_tensor *tensor);

#ifdef __cplusplus
}
#endif

#endif /* PANAMASD_H */
