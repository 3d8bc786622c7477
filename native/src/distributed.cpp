// Process groups over libtorch's c10d (psd_dist_*): a rendezvous store, a Gloo (CPU) or NCCL (CUDA) group, the
// collectives, and the bucketed gradient reducer behind Java's DistributedDataParallel. CMake defines
// PSD_HAVE_C10D only when libtorch's c10d headers and gloo's are there; otherwise every call fails with a
// message saying so, and the rest of the shim builds and works as before.
#include "common.h"

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#if PSD_HAVE_C10D
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include "rendezvous.h"
#if PSD_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

using namespace psd;

#if PSD_HAVE_C10D

namespace {

// libtorch 2 split a process group into a dispatching ProcessGroup and per-device Backends (Gloo and NCCL are
// Backends there); in 1.13 Gloo and NCCL are ProcessGroups themselves. Both offer the collectives used here
// with the same signatures.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

using Millis = std::chrono::milliseconds;

// libtorch's message without its C++ backtrace.
std::string message_of(const std::exception &e) {
  if (auto *c10 = dynamic_cast<const c10::Error *>(&e)) return c10->what_without_backtrace();
  return e.what();
}

[[noreturn]] void fail(const std::string &message) { TORCH_CHECK(false, message); }

struct Where {
  int rank;
  int world;
  Millis timeout;
  std::string describe() const {
    return "rank " + std::to_string(rank) + " of " + std::to_string(world);
  }
};

// Waits for a collective; a failure (a peer that died or stopped calling, or the timeout) becomes one message
// that says which call, where, and what the likely cause is.
void wait_for(const c10::intrusive_ptr<c10d::Work> &work, const Where &where, const char *what) {
  try {
    work->wait(where.timeout);
  } catch (const std::exception &e) {
    std::string cause = message_of(e);
    bool timed_out = cause.find("imed out") != std::string::npos || cause.find("imeout") != std::string::npos;
    fail(std::string("distributed ") + what + " failed on " + where.describe() + ": " +
         (timed_out ? "timed out after " + std::to_string(where.timeout.count()) + " ms waiting for the other processes"
                    : std::string("the connection to another process broke")) +
         " (a process died, hangs, or made different collective calls): " + cause);
  }
}

bool is_loopback(const std::string &address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

// The network device Gloo binds to: the interface named by GLOO_SOCKET_IFNAME (as PyTorch reads it), the
// loopback for a loopback rendezvous, otherwise the address this host's name resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(int32_t store, const std::string &address) {
  const char *interface = std::getenv("GLOO_SOCKET_IFNAME");
  if (interface != nullptr && *interface != '\0') return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  if (store == PSD_DIST_STORE_TCP && is_loopback(address)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10::intrusive_ptr<c10d::Store> make_store(int32_t kind, const std::string &address, int32_t port, const Where &where) {
  if (kind == PSD_DIST_STORE_FILE) {
    auto store = c10::make_intrusive<c10d::FileStore>(address, where.world);
    store->setTimeout(where.timeout);
    return store;
  }
  if (kind != PSD_DIST_STORE_TCP) throw ArgumentError("unknown store kind " + std::to_string(kind));
  if (port <= 0 || port > 65535) throw ArgumentError("port must be in 1..65535, got " + std::to_string(port));
  std::string endpoint = address + ":" + std::to_string(port);
  try {
    // our own store rather than c10d's TCPStore, whose 1.13 server listens on every interface: rank 0 serves it on
    // exactly the master address (the process group's own rendezvous waits for everyone, with the same timeout)
    return psd::rendezvous_store(address, port, where.rank == 0, where.timeout);
  } catch (const std::exception &e) {
    if (where.rank == 0)
      fail("cannot serve the rendezvous store on " + endpoint + " (rank 0 listens there; is the port in use? choose another --master-port): " +
           message_of(e));
    fail("cannot reach the rendezvous store at " + endpoint + " within " + std::to_string(where.timeout.count()) +
         " ms (is rank 0 running, and are --master-addr and --master-port right?): " + message_of(e));
  }
}

c10::intrusive_ptr<Collectives> make_backend(int32_t backend, int32_t store_kind, const std::string &address,
                                             const c10::intrusive_ptr<c10d::Store> &store, const Where &where) {
  if (backend == PSD_DIST_GLOO) {
    auto options = c10d::ProcessGroupGloo::Options::create(where.timeout);
    options->devices.push_back(gloo_device(store_kind, address));
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, where.rank, where.world, options);
  }
  if (backend == PSD_DIST_NCCL) {
#if PSD_HAVE_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = where.timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, where.rank, where.world, options);
#else
    throw ArgumentError("NCCL is not available in this shim (it needs a CUDA libtorch built with NCCL); use Gloo");
#endif
  }
  throw ArgumentError("unknown backend " + std::to_string(backend));
}

// One buffer for a list of tensors of one dtype and device: the tensor itself when it is alone and
// contiguous (the collective then works in place), otherwise a flattened copy that unflatten writes back.
at::Tensor flatten(const std::vector<at::Tensor> &tensors) {
  if (tensors.empty()) throw ArgumentError("no tensors");
  for (const auto &t : tensors) {
    if (t.scalar_type() != tensors[0].scalar_type() || t.device() != tensors[0].device())
      throw ArgumentError("all tensors of one collective need one dtype and device");
  }
  if (tensors.size() == 1 && tensors[0].is_contiguous()) return tensors[0];
  std::vector<at::Tensor> flat;
  flat.reserve(tensors.size());
  for (const auto &t : tensors) flat.push_back(t.reshape(-1));
  return at::cat(flat);
}

void unflatten(const at::Tensor &flat, const std::vector<at::Tensor> &tensors) {
  if (tensors.size() == 1 && flat.is_same(tensors[0])) return;
  int64_t offset = 0;
  for (const auto &t : tensors) {
    t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

c10d::ReduceOp reduce_op(int32_t op) {
  switch (op) {
    case PSD_DIST_SUM: return c10d::ReduceOp::SUM;
    case PSD_DIST_MIN: return c10d::ReduceOp::MIN;
    case PSD_DIST_MAX: return c10d::ReduceOp::MAX;
    default: throw ArgumentError("unknown reduce op " + std::to_string(op));
  }
}

}  // namespace

struct psd_process_group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Collectives> backend;
  Where where;
};

psd_process_group &group_of(psd_process_group *group) {
  if (group == nullptr) throw ArgumentError("process group handle is NULL");
  return *group;
}

// One collective over a list of tensors, in place: flattened into one buffer, launched, waited for, written back.
template <class Launch>
void on_flattened(psd_process_group &g, psd_tensor *const *tensors, int64_t count, const char *what, Launch launch) {
  at::NoGradGuard no_grad;
  auto list = tensor_list(tensors, count, "tensors");
  std::vector<at::Tensor> one{flatten(list)};
  wait_for(launch(one), g.where, what);
  unflatten(one[0], list);
}

// The gradient reducer: buckets of parameters (in reverse order, the order backward produces their
// gradients), each one flat buffer that is all-reduced as a whole.
struct psd_grad_reducer {
  struct Bucket {
    std::vector<size_t> members;
    at::Tensor flat;
    size_t pending = 0;  // members whose gradient has not arrived this step
    c10::intrusive_ptr<c10d::Work> work;
  };

  c10::intrusive_ptr<Collectives> backend;
  Where where;
  std::vector<at::Tensor> params;
  std::vector<size_t> bucket_of;
  std::vector<int64_t> offset_of;
  std::vector<bool> arrived;
  std::vector<Bucket> buckets;
  std::vector<std::pair<size_t, unsigned>> hooks;  // (parameter, hook id)
  size_t next_launch = 0;
  int64_t early = 0, last_early = 0;
  std::mutex mutex;

  // Buckets start strictly in index order on every process, so the k-th all-reduce of each process is the
  // same bucket even when gradients arrive in different orders.
  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket &b = buckets[next_launch++];
      std::vector<at::Tensor> one{b.flat};
      c10d::AllreduceOptions options;
      options.timeout = where.timeout;
      b.work = backend->allreduce(one, options);
    }
  }

  void put(size_t i, const at::Tensor &grad) {
    if (arrived[i])
      fail("the gradient of parameter " + std::to_string(i) +
           " arrived twice before finish: the reducer expects one backward per step, then finish");
    Bucket &b = buckets[bucket_of[i]];
    auto slot = b.flat.narrow(0, offset_of[i], params[i].numel());
    if (grad.defined()) slot.copy_(grad.reshape(-1));
    else slot.zero_();
    arrived[i] = true;
    b.pending--;
  }

  // Called by a parameter's gradient hook during backward.
  void on_gradient(size_t i, const at::Tensor &grad) {
    at::NoGradGuard no_grad;
    std::lock_guard<std::mutex> lock(mutex);
    put(i, grad);
    size_t before = next_launch;
    launch_ready();
    early += static_cast<int64_t>(next_launch - before);
  }

  void reset() {
    for (auto &b : buckets) {
      b.pending = b.members.size();
      b.work.reset();
    }
    std::fill(arrived.begin(), arrived.end(), false);
    next_launch = 0;
    last_early = early;
    early = 0;
  }

  double finish() {
    at::NoGradGuard no_grad;
    std::lock_guard<std::mutex> lock(mutex);
    struct Reset {
      psd_grad_reducer *r;
      ~Reset() { r->reset(); }
    } reset_after{this};
    for (size_t i = 0; i < params.size(); i++)
      if (!arrived[i]) put(i, params[i].grad());  // no hook fired: no overlap, or the parameter was unused
    launch_ready();
    auto start = std::chrono::steady_clock::now();
    for (auto &b : buckets) wait_for(b.work, where, "gradient all_reduce");
    double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (auto &b : buckets) {
      b.flat.div_(where.world);
      for (size_t i : b.members) {
        at::Tensor average = b.flat.narrow(0, offset_of[i], params[i].numel()).view(params[i].sizes());
        at::Tensor &grad = params[i].mutable_grad();
        if (grad.defined()) grad.copy_(average);
        else grad = average.clone();
      }
    }
    return waited;
  }
};

#endif  // PSD_HAVE_C10D

namespace {
#if !PSD_HAVE_C10D
[[noreturn]] void unavailable() {
  throw std::runtime_error(std::string("distributed training is not available in this libtorch: the shim was built without c10d (") +
                           PSD_NO_C10D_REASON + ")");
}
#endif
}  // namespace

extern "C" {

int32_t psd_dist_available(int32_t backend, bool *ret_available) {
  return guarded([&] {
    bool *ret = out(ret_available);
#if PSD_HAVE_C10D
    *ret = backend == PSD_DIST_GLOO || (backend == PSD_DIST_NCCL && PSD_HAVE_NCCL);
#else
    *ret = false;
#endif
  });
}

int32_t psd_dist_new(int32_t backend, int32_t store, const char *address, int32_t port, int32_t rank,
                     int32_t world_size, int64_t timeout_ms, psd_process_group **ret_group) {
  return guarded([&] {
    out(ret_group);
#if PSD_HAVE_C10D
    if (address == nullptr) throw ArgumentError("address is NULL");
    if (world_size < 1) throw ArgumentError("world size must be >= 1, got " + std::to_string(world_size));
    if (rank < 0 || rank >= world_size)
      throw ArgumentError("rank must be in 0.." + std::to_string(world_size - 1) + ", got " + std::to_string(rank));
    if (timeout_ms <= 0) throw ArgumentError("timeout must be > 0 ms, got " + std::to_string(timeout_ms));
    Where where{rank, world_size, Millis(timeout_ms)};
    auto s = make_store(store, address, port, where);
    c10::intrusive_ptr<Collectives> b;
    try {
      b = make_backend(backend, store, address, s, where);
    } catch (const ArgumentError &) {
      throw;
    } catch (const std::exception &e) {
      fail("the process group did not form on " + where.describe() + " within " + std::to_string(timeout_ms) +
           " ms (did every rank start, with the same --world-size?): " + message_of(e));
    }
    *ret_group = new psd_process_group{s, b, where};
#else
    unavailable();
#endif
  });
}

int32_t psd_dist_all_reduce(psd_process_group *group, psd_tensor *const *tensors, int64_t count, int32_t op) {
  return guarded([&] {
#if PSD_HAVE_C10D
    auto &g = group_of(group);
    c10d::AllreduceOptions options;
    options.reduceOp = reduce_op(op);
    options.timeout = g.where.timeout;
    on_flattened(g, tensors, count, "all_reduce", [&](std::vector<at::Tensor> &one) { return g.backend->allreduce(one, options); });
#else
    unavailable();
#endif
  });
}

int32_t psd_dist_broadcast(psd_process_group *group, psd_tensor *const *tensors, int64_t count, int32_t root) {
  return guarded([&] {
#if PSD_HAVE_C10D
    auto &g = group_of(group);
    if (root < 0 || root >= g.where.world) throw ArgumentError("root must be a rank, got " + std::to_string(root));
    c10d::BroadcastOptions options;
    options.rootRank = root;
    options.timeout = g.where.timeout;
    on_flattened(g, tensors, count, "broadcast", [&](std::vector<at::Tensor> &one) { return g.backend->broadcast(one, options); });
#else
    unavailable();
#endif
  });
}

int32_t psd_dist_barrier(psd_process_group *group) {
  return guarded([&] {
#if PSD_HAVE_C10D
    auto &g = group_of(group);
    c10d::BarrierOptions options;
    options.timeout = g.where.timeout;
    wait_for(g.backend->barrier(options), g.where, "barrier");
#else
    unavailable();
#endif
  });
}

void psd_dist_free(psd_process_group *group) {
#if PSD_HAVE_C10D
  released([&] { delete group; });  // the group's worker threads end; a reducer still holding the backend keeps it alive
#endif
}

int32_t psd_dist_reducer_new(psd_process_group *group, psd_tensor *const *params, int64_t count, int64_t bucket_bytes,
                             bool overlap, psd_grad_reducer **ret_reducer) {
  return guarded([&] {
    out(ret_reducer);
#if PSD_HAVE_C10D
    auto &g = group_of(group);
    if (bucket_bytes <= 0) throw ArgumentError("bucket size must be > 0 bytes");
    auto r = std::make_unique<psd_grad_reducer>();
    r->backend = g.backend;
    r->where = g.where;
    for (auto &p : tensor_list(params, count, "params"))
      if (p.requires_grad()) r->params.push_back(p);  // the others never get a gradient: nothing to average
    if (r->params.empty()) throw ArgumentError("no parameter requires a gradient");
    size_t n = r->params.size();
    r->bucket_of.assign(n, 0);
    r->offset_of.assign(n, 0);
    r->arrived.assign(n, false);
    // Reverse order, greedy by bytes; a bucket holds one dtype and device. As in PyTorch's DDP the first
    // bucket is small (1 MiB), so that the first all-reduce starts early in backward.
    std::vector<int64_t> sizes;
    for (size_t k = 0; k < n; k++) {
      size_t i = n - 1 - k;
      const auto &p = r->params[i];
      int64_t cap = r->buckets.size() <= 1 ? std::min<int64_t>(bucket_bytes, 1 << 20) : bucket_bytes;
      bool fits = !r->buckets.empty() && (sizes.back() + p.numel()) * p.element_size() <= cap &&
                  r->params[r->buckets.back().members[0]].scalar_type() == p.scalar_type() &&
                  r->params[r->buckets.back().members[0]].device() == p.device();
      if (!fits) {
        r->buckets.emplace_back();
        sizes.push_back(0);
      }
      r->bucket_of[i] = r->buckets.size() - 1;
      r->offset_of[i] = sizes.back();
      r->buckets.back().members.push_back(i);
      sizes.back() += p.numel();
    }
    for (size_t b = 0; b < r->buckets.size(); b++) {
      const auto &first = r->params[r->buckets[b].members[0]];
      r->buckets[b].flat = at::zeros({sizes[b]}, first.options().requires_grad(false));
      r->buckets[b].pending = r->buckets[b].members.size();
    }
    if (overlap) {
      psd_grad_reducer *self = r.get();
      for (size_t i = 0; i < n; i++) {
        unsigned id = r->params[i].register_hook([self, i](at::Tensor grad) { self->on_gradient(i, grad); });
        r->hooks.emplace_back(i, id);
      }
    }
    *ret_reducer = r.release();
#else
    unavailable();
#endif
  });
}

int32_t psd_dist_reducer_finish(psd_grad_reducer *reducer, double *ret_wait_seconds) {
  return guarded([&] {
#if PSD_HAVE_C10D
    if (reducer == nullptr) throw ArgumentError("reducer handle is NULL");
    double waited = reducer->finish();
    if (ret_wait_seconds != nullptr) *ret_wait_seconds = waited;
#else
    unavailable();
#endif
  });
}

int32_t psd_dist_reducer_stats(const psd_grad_reducer *reducer, int64_t *ret_buckets, int64_t *ret_early) {
  return guarded([&] {
#if PSD_HAVE_C10D
    if (reducer == nullptr) throw ArgumentError("reducer handle is NULL");
    *out(ret_buckets, "ret_buckets") = static_cast<int64_t>(reducer->buckets.size());
    *out(ret_early, "ret_early") = reducer->last_early;
#else
    unavailable();
#endif
  });
}

void psd_dist_reducer_free(psd_grad_reducer *reducer) {
#if PSD_HAVE_C10D
  if (reducer == nullptr) return;
  released([&] {
    try {
      for (auto &[i, id] : reducer->hooks) reducer->params[i].remove_hook(id);  // no hook may call into freed memory
    } catch (...) {
    }
    delete reducer;
  });
#endif
}

}  // extern "C"
