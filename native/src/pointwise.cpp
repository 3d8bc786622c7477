// Elementwise arithmetic, comparisons and activations.
#include "common.h"

using namespace psd;

#define PSD_BINARY(name, expr)                                                           \
  int32_t psd_tensor_##name(const psd_tensor *a, const psd_tensor *b, psd_tensor **ret) { \
    return guarded([&] {                                                                 \
      auto x = T(a, "a");                                                                \
      auto y = T(b, "b");                                                                \
      *out(ret) = wrap(expr);                                                            \
    });                                                                                  \
  }

#define PSD_SCALAR(name, expr)                                                   \
  int32_t psd_tensor_##name(const psd_tensor *a, double b, psd_tensor **ret) {   \
    return guarded([&] {                                                         \
      auto x = T(a, "a");                                                        \
      *out(ret) = wrap(expr);                                                    \
    });                                                                          \
  }

#define PSD_UNARY(name, expr)                                         \
  int32_t psd_tensor_##name(const psd_tensor *a, psd_tensor **ret) {  \
    return guarded([&] {                                              \
      auto x = T(a, "a");                                             \
      *out(ret) = wrap(expr);                                         \
    });                                                               \
  }

extern "C" {

int32_t psd_tensor_add(const psd_tensor *a, const psd_tensor *b, double alpha, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::add(T(a, "a"), T(b, "b"), alpha)); });
}

int32_t psd_tensor_sub(const psd_tensor *a, const psd_tensor *b, double alpha, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::sub(T(a, "a"), T(b, "b"), alpha)); });
}

PSD_BINARY(mul, at::mul(x, y))
PSD_BINARY(div, at::div(x, y))
PSD_BINARY(pow, at::pow(x.get(), y.get()))
PSD_BINARY(maximum, at::maximum(x, y))
PSD_BINARY(minimum, at::minimum(x, y))
PSD_BINARY(eq, at::eq(x.get(), y.get()))
PSD_BINARY(ne, at::ne(x.get(), y.get()))
PSD_BINARY(lt, at::lt(x.get(), y.get()))
PSD_BINARY(le, at::le(x.get(), y.get()))
PSD_BINARY(gt, at::gt(x.get(), y.get()))
PSD_BINARY(ge, at::ge(x.get(), y.get()))

PSD_SCALAR(add_scalar, at::add(x.get(), b))
PSD_SCALAR(mul_scalar, at::mul(x.get(), b))
PSD_SCALAR(div_scalar, at::div(x.get(), b))
PSD_SCALAR(pow_scalar, at::pow(x.get(), b))
PSD_SCALAR(rsub_scalar, at::rsub(x.get(), b))
PSD_SCALAR(eq_scalar, at::eq(x.get(), b))
PSD_SCALAR(ne_scalar, at::ne(x.get(), b))
PSD_SCALAR(lt_scalar, at::lt(x.get(), b))
PSD_SCALAR(le_scalar, at::le(x.get(), b))
PSD_SCALAR(gt_scalar, at::gt(x.get(), b))
PSD_SCALAR(ge_scalar, at::ge(x.get(), b))

int32_t psd_tensor_where(const psd_tensor *condition, const psd_tensor *a, const psd_tensor *b, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::where(T(condition, "condition"), T(a, "a"), T(b, "b"))); });
}

int32_t psd_tensor_clamp(const psd_tensor *a, bool has_min, double min, bool has_max, double max, psd_tensor **ret) {
  return guarded([&] {
    c10::optional<at::Scalar> lo = has_min ? c10::optional<at::Scalar>(min) : c10::nullopt;
    c10::optional<at::Scalar> hi = has_max ? c10::optional<at::Scalar>(max) : c10::nullopt;
    *out(ret) = wrap(at::clamp(T(a, "a"), lo, hi));
  });
}

PSD_UNARY(neg, at::neg(x))
PSD_UNARY(exp, at::exp(x))
PSD_UNARY(log, at::log(x))
PSD_UNARY(sqrt, at::sqrt(x))
PSD_UNARY(rsqrt, at::rsqrt(x))
PSD_UNARY(abs, at::abs(x))
PSD_UNARY(sin, at::sin(x))
PSD_UNARY(cos, at::cos(x))
PSD_UNARY(reciprocal, at::reciprocal(x))
PSD_UNARY(floor, at::floor(x))
PSD_UNARY(round, at::round(x))
PSD_UNARY(sign, at::sign(x))
PSD_UNARY(logical_not, at::logical_not(x))
PSD_UNARY(silu, at::silu(x))
PSD_UNARY(relu, at::relu(x))
PSD_UNARY(sigmoid, at::sigmoid(x))
PSD_UNARY(tanh, at::tanh(x))

int32_t psd_tensor_gelu(const psd_tensor *a, bool tanh_approximation, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::gelu(T(a, "a"), tanh_approximation ? "tanh" : "none")); });
}

int32_t psd_tensor_leaky_relu(const psd_tensor *a, double negative_slope, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::leaky_relu(T(a, "a"), negative_slope)); });
}

int32_t psd_tensor_softmax(const psd_tensor *a, int64_t dim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::softmax(T(a, "a"), dim)); });
}

int32_t psd_tensor_log_softmax(const psd_tensor *a, int64_t dim, psd_tensor **ret) {
  return guarded([&] { *out(ret) = wrap(at::log_softmax(T(a, "a"), dim)); });
}

}  // extern "C"
