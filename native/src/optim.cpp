// Optimizers over a parameter list (libtorch's C++ frontend), their saved state, and gradient clipping.
#include <torch/types.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>

#include <memory>

#include "common.h"

using namespace psd;

struct psd_optimizer {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
};

namespace {
void check_lr(double lr) {
  if (!(lr >= 0)) throw ArgumentError("learning rate must be >= 0, got " + std::to_string(lr));
}
}  // namespace

extern "C" {

int32_t psd_optim_sgd_new(psd_tensor *const *params, int64_t count, double lr, double momentum, double dampening,
                          double weight_decay, bool nesterov, psd_optimizer **ret_optimizer) {
  return guarded([&] {
    out(ret_optimizer);
    check_lr(lr);
    auto options = torch::optim::SGDOptions(lr).momentum(momentum).dampening(dampening).weight_decay(weight_decay).nesterov(nesterov);
    auto optimizer = std::make_unique<torch::optim::SGD>(tensor_list(params, count, "params"), options);
    *ret_optimizer = new psd_optimizer{std::move(optimizer)};
  });
}

int32_t psd_optim_adam_new(psd_tensor *const *params, int64_t count, double lr, double beta1, double beta2, double eps,
                           double weight_decay, bool amsgrad, psd_optimizer **ret_optimizer) {
  return guarded([&] {
    out(ret_optimizer);
    check_lr(lr);
    auto options = torch::optim::AdamOptions(lr).betas(std::make_tuple(beta1, beta2)).eps(eps).weight_decay(weight_decay).amsgrad(amsgrad);
    auto optimizer = std::make_unique<torch::optim::Adam>(tensor_list(params, count, "params"), options);
    *ret_optimizer = new psd_optimizer{std::move(optimizer)};
  });
}

int32_t psd_optim_adamw_new(psd_tensor *const *params, int64_t count, double lr, double beta1, double beta2,
                            double eps, double weight_decay, bool amsgrad, psd_optimizer **ret_optimizer) {
  return guarded([&] {
    out(ret_optimizer);
    check_lr(lr);
    auto options = torch::optim::AdamWOptions(lr).betas(std::make_tuple(beta1, beta2)).eps(eps).weight_decay(weight_decay).amsgrad(amsgrad);
    auto optimizer = std::make_unique<torch::optim::AdamW>(tensor_list(params, count, "params"), options);
    *ret_optimizer = new psd_optimizer{std::move(optimizer)};
  });
}

int32_t psd_optim_step(psd_optimizer *optimizer) {
  return guarded([&] {
    if (optimizer == nullptr) throw ArgumentError("optimizer handle is NULL");
    at::NoGradGuard no_grad;
    optimizer->optimizer->step();
  });
}

int32_t psd_optim_zero_grad(psd_optimizer *optimizer) {
  return guarded([&] {
    if (optimizer == nullptr) throw ArgumentError("optimizer handle is NULL");
    optimizer->optimizer->zero_grad();
  });
}

int32_t psd_optim_set_lr(psd_optimizer *optimizer, double lr) {
  return guarded([&] {
    if (optimizer == nullptr) throw ArgumentError("optimizer handle is NULL");
    check_lr(lr);
    for (auto &group : optimizer->optimizer->param_groups()) group.options().set_lr(lr);
  });
}

int32_t psd_optim_save(const psd_optimizer *optimizer, const char *path) {
  return guarded([&] {
    if (optimizer == nullptr) throw ArgumentError("optimizer handle is NULL");
    if (path == nullptr) throw ArgumentError("path is NULL");
    torch::serialize::OutputArchive archive;
    optimizer->optimizer->save(archive);
    archive.save_to(path);
  });
}

int32_t psd_optim_load(psd_optimizer *optimizer, const char *path) {
  return guarded([&] {
    if (optimizer == nullptr) throw ArgumentError("optimizer handle is NULL");
    if (path == nullptr) throw ArgumentError("path is NULL");
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    optimizer->optimizer->load(archive);
  });
}

void psd_optim_free(psd_optimizer *optimizer) {
  released([&] { delete optimizer; });
}

int32_t psd_optim_clip_grad_norm(psd_tensor *const *params, int64_t count, double max_norm, double norm_type,
                                 double *ret_total_norm) {
  return guarded([&] {
    double total = torch::nn::utils::clip_grad_norm_(tensor_list(params, count, "params"), max_norm, norm_type);
    if (ret_total_norm != nullptr) *ret_total_norm = total;
  });
}

}  // extern "C"
