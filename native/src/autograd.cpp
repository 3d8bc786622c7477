// Autograd: requires_grad, backward, grad (with create_graph for gradient penalties), grad and inference modes.
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>
#include <c10/core/InferenceMode.h>

#include "common.h"

using namespace psd;

#include <thread>

// A guard restores the mode of the thread it was made on, and libtorch's guards nest: ending one on
// another OS thread (a virtual thread's new carrier) or out of order would corrupt both threads' modes.
struct psd_inference_guard {
  c10::InferenceMode mode{true};
  std::thread::id thread = std::this_thread::get_id();
  psd_inference_guard *outer = nullptr;
};

namespace {
thread_local psd_inference_guard *innermost_guard = nullptr;
}

extern "C" {

int32_t psd_tensor_requires_grad(const psd_tensor *tensor, bool *ret_requires_grad) {
  return guarded([&] { *out(ret_requires_grad) = T(tensor).get().requires_grad(); });
}

int32_t psd_tensor_set_requires_grad(psd_tensor *tensor, bool requires_grad) {
  return guarded([&] {
    auto t = T(tensor);
    const_cast<at::Tensor &>(t.get()).set_requires_grad(requires_grad);
  });
}

int32_t psd_tensor_grad(const psd_tensor *tensor, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(tensor).get().grad()); });
}

int32_t psd_tensor_zero_grad(psd_tensor *tensor) {
  return guarded([&] {
    auto t = T(tensor);
    const_cast<at::Tensor &>(t.get()).mutable_grad().reset();
  });
}

int32_t psd_tensor_detach(const psd_tensor *tensor, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(T(tensor).get().detach()); });
}

int32_t psd_autograd_backward(const psd_tensor *output, const psd_tensor *gradient, bool retain_graph,
                              bool create_graph) {
  return guarded([&] {
    auto o = T(output, "output");
    at::Tensor g = gradient == nullptr ? at::Tensor() : Borrowed(gradient).get();
    // As in torch: the graph is kept whenever a higher-order graph is built.
    o.get().backward(g, retain_graph || create_graph, create_graph);
  });
}

int32_t psd_autograd_grad(psd_tensor *const *outputs, int64_t count_outputs, psd_tensor *const *inputs,
                          int64_t count_inputs, psd_tensor *const *grad_outputs, bool retain_graph, bool create_graph,
                          bool allow_unused, psd_tensor **ret_grads) {
  return guarded([&] {
    out(ret_grads, "ret_grads");
    auto outs = tensor_list(outputs, count_outputs, "outputs");
    auto ins = tensor_list(inputs, count_inputs, "inputs");
    std::vector<at::Tensor> seeds;
    if (grad_outputs != nullptr) seeds = tensor_list(grad_outputs, count_outputs, "grad_outputs");
    auto grads = torch::autograd::grad(outs, ins, seeds, retain_graph || create_graph, create_graph, allow_unused);
    for (size_t i = 0; i < grads.size(); i++) ret_grads[i] = wrap(grads[i]);
  });
}

int32_t psd_autograd_is_grad_enabled(bool *ret_enabled) {
  return guarded([&] { *out(ret_enabled) = at::GradMode::is_enabled(); });
}

int32_t psd_autograd_set_grad_enabled(bool enabled, bool *ret_previous) {
  return guarded([&] {
    bool previous = at::GradMode::is_enabled();
    at::GradMode::set_enabled(enabled);
    if (ret_previous != nullptr) *ret_previous = previous;
  });
}

int32_t psd_inference_mode_enter(psd_inference_guard **ret_guard) {
  return guarded([&] {
    out(ret_guard);
    auto *guard = new psd_inference_guard();
    guard->outer = innermost_guard;
    innermost_guard = guard;
    *ret_guard = guard;
  });
}

int32_t psd_inference_mode_exit_v2(psd_inference_guard *guard) {
  return guarded([&] {
    if (guard == nullptr) throw ArgumentError("inference mode guard is NULL");
    if (guard->thread != std::this_thread::get_id())
      throw ArgumentError("inference mode must end on the OS thread that began it (a virtual thread may have moved to another carrier)");
    if (guard != innermost_guard) throw ArgumentError("inference mode regions must end innermost first");
    innermost_guard = guard->outer;
    delete guard;
  });
}

void psd_inference_mode_exit(psd_inference_guard *guard) {
  if (guard != nullptr) (void)psd_inference_mode_exit_v2(guard);
}

}  // extern "C"
