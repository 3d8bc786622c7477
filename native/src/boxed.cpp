// One boxed entry point to every registered ATen operator, through libtorch's dispatcher.
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <deque>
#include <mutex>
#include <unordered_map>

#include "common.h"

using namespace psd;

struct psd_op {
  c10::OperatorHandle handle;
  std::string schema;
};

namespace {

std::mutex ops_mutex;
std::unordered_map<std::string, std::unique_ptr<psd_op>> ops;  // operators live as long as the process
thread_local std::string schema_text;
thread_local std::deque<std::vector<int64_t>> result_int_lists;
thread_local std::deque<std::string> result_strings;

bool is_int_like(c10::TypeKind kind) {
  return kind == c10::TypeKind::IntType || kind == c10::TypeKind::SymIntType || kind == c10::TypeKind::ScalarTypeType ||
         kind == c10::TypeKind::LayoutType || kind == c10::TypeKind::MemoryFormatType;
}

// Whether a value of this tag may stand for the schema's type. The dispatcher itself would only find a
// mismatch deep inside the kernel (an internal assert, or a bad cast), so it is checked here, by name.
bool tag_fits(int32_t tag, const c10::TypePtr &declared) {
  c10::TypePtr type = declared;
  bool optional = false;
  if (auto inner = type->cast<c10::OptionalType>()) {
    type = inner->getElementType();
    optional = true;
  }
  c10::TypeKind kind = type->kind();
  if (kind == c10::TypeKind::AnyType || kind == c10::TypeKind::DynamicType) return true;
  auto list_of = [&](auto accept) {
    auto list = type->cast<c10::ListType>();
    if (list == nullptr) return false;
    c10::TypePtr element = list->getElementType();
    if (auto inner = element->cast<c10::OptionalType>()) element = inner->getElementType();
    return accept(element->kind());
  };
  switch (tag) {
    case PSD_VALUE_NONE: return optional || kind == c10::TypeKind::NoneType;
    case PSD_VALUE_TENSOR: return kind == c10::TypeKind::TensorType;
    case PSD_VALUE_INT:
      return is_int_like(kind) || kind == c10::TypeKind::FloatType || kind == c10::TypeKind::NumberType ||
             kind == c10::TypeKind::SymFloatType;
    case PSD_VALUE_DOUBLE:
      return kind == c10::TypeKind::FloatType || kind == c10::TypeKind::NumberType || kind == c10::TypeKind::SymFloatType;
    case PSD_VALUE_BOOL: return kind == c10::TypeKind::BoolType || kind == c10::TypeKind::NumberType;
    case PSD_VALUE_SCALAR_TYPE: return is_int_like(kind);
    case PSD_VALUE_INT_LIST: return list_of([](c10::TypeKind k) { return is_int_like(k); });
    case PSD_VALUE_STRING: return kind == c10::TypeKind::StringType;
    case PSD_VALUE_TENSOR_LIST: return list_of([](c10::TypeKind k) { return k == c10::TypeKind::TensorType; });
    default: return true;  // unknown tags fail below with their own message
  }
}

const char *tag_name(int32_t tag) {
  switch (tag) {
    case PSD_VALUE_NONE: return "None";
    case PSD_VALUE_TENSOR: return "a tensor";
    case PSD_VALUE_INT: return "an int";
    case PSD_VALUE_DOUBLE: return "a float";
    case PSD_VALUE_BOOL: return "a bool";
    case PSD_VALUE_SCALAR_TYPE: return "a dtype";
    case PSD_VALUE_INT_LIST: return "an int list";
    case PSD_VALUE_STRING: return "a string";
    case PSD_VALUE_TENSOR_LIST: return "a tensor list";
    default: return "an unknown value";
  }
}

c10::IValue to_ivalue(const psd_value &value, const c10::Argument &argument, int64_t index) {
  const c10::TypePtr &type = argument.type();
  auto where = [&] { return "argument " + std::to_string(index) + " '" + argument.name() + "'"; };
  if (!tag_fits(value.tag, type))
    throw ArgumentError(where() + " expects " + type->annotation_str() + ", got " + tag_name(value.tag));
  switch (value.tag) {
    case PSD_VALUE_NONE: return c10::IValue();
    case PSD_VALUE_TENSOR:
      if (value.tensor == nullptr) throw ArgumentError(where() + ": tensor handle is NULL");
      return c10::IValue(Borrowed(value.tensor).get());
    case PSD_VALUE_INT:
      if (type->kind() == c10::TypeKind::FloatType) return c10::IValue(static_cast<double>(value.i));
      return c10::IValue(value.i);
    case PSD_VALUE_DOUBLE: return c10::IValue(value.d);
    case PSD_VALUE_BOOL: return c10::IValue(value.i != 0);
    case PSD_VALUE_SCALAR_TYPE: return c10::IValue(value.i);
    case PSD_VALUE_INT_LIST:
      return c10::IValue(std::vector<int64_t>(ints(value.ints, value.len, "int list").vec()));
    case PSD_VALUE_STRING:
      if (value.str == nullptr) throw ArgumentError(where() + ": string is NULL");
      return c10::IValue(std::string(value.str));
    case PSD_VALUE_TENSOR_LIST: {
      auto tensors = tensor_list(value.tensors, value.len, "tensor list");
      auto list_type = type->cast<c10::ListType>();
      if (list_type != nullptr && list_type->getElementType()->kind() == c10::TypeKind::OptionalType) {
        c10::List<c10::optional<at::Tensor>> optional_list;
        for (auto &t : tensors) optional_list.push_back(t);
        return c10::IValue(optional_list);
      }
      return c10::IValue(c10::List<at::Tensor>(tensors));
    }
    default: throw ArgumentError(where() + ": unknown value tag " + std::to_string(value.tag));
  }
}

int64_t count_results(const torch::jit::Stack &stack) {
  int64_t n = 0;
  for (const auto &v : stack) n += v.isTensorList() ? static_cast<int64_t>(v.toTensorList().size()) : 1;
  return n;
}

psd_value empty_value() {
  psd_value v{};
  v.tag = PSD_VALUE_NONE;
  return v;
}

// Converts results in two passes: everything that can throw (checks, copies of lists and strings) happens
// before the first handle is made, so a failure cannot lose handles already written out.
void write_results(const torch::jit::Stack &stack, psd_value *ret_values) {
  for (const auto &v : stack) {
    if (!(v.isTensor() || v.isTensorList() || v.isInt() || v.isDouble() || v.isBool() || v.isIntList() ||
          v.isNone() || v.isString()))
      throw ArgumentError("unsupported result type " + v.tagKind());
  }
  result_int_lists.clear();
  result_strings.clear();
  std::vector<psd_value> results;
  std::vector<at::Tensor> tensors;  // tensors[i] belongs to results[tensor_slots[i]]
  std::vector<size_t> tensor_slots;
  for (const auto &v : stack) {
    fault_point(PSD_TEST_FAULT_OP_RESULT);
    if (v.isTensorList()) {
      for (const at::Tensor &t : v.toTensorList().vec()) {
        tensor_slots.push_back(results.size());
        tensors.push_back(t);
        results.push_back(empty_value());
      }
      continue;
    }
    psd_value r = empty_value();
    if (v.isTensor()) {
      tensor_slots.push_back(results.size());
      tensors.push_back(v.toTensor());
    } else if (v.isInt()) {
      r.tag = PSD_VALUE_INT;
      r.i = v.toInt();
    } else if (v.isDouble()) {
      r.tag = PSD_VALUE_DOUBLE;
      r.d = v.toDouble();
    } else if (v.isBool()) {
      r.tag = PSD_VALUE_BOOL;
      r.i = v.toBool() ? 1 : 0;
    } else if (v.isIntList()) {
      result_int_lists.push_back(v.toIntVector());
      r.tag = PSD_VALUE_INT_LIST;
      r.ints = result_int_lists.back().data();
      r.len = static_cast<int64_t>(result_int_lists.back().size());
    } else if (v.isString()) {
      result_strings.push_back(v.toStringRef());
      r.tag = PSD_VALUE_STRING;
      r.str = result_strings.back().c_str();
    }
    results.push_back(r);
  }
  for (size_t i = 0; i < tensors.size(); i++) {  // wrap cannot throw
    psd_value &r = results[tensor_slots[i]];
    r.tensor = wrap(std::move(tensors[i]));
    r.tag = r.tensor == nullptr ? PSD_VALUE_NONE : PSD_VALUE_TENSOR;
  }
  std::copy(results.begin(), results.end(), ret_values);
}

}  // namespace

extern "C" {

int32_t psd_op_find(const char *name, const char *overload, psd_op **ret_op) {
  return guarded([&] {
    out(ret_op);
    if (name == nullptr) throw ArgumentError("operator name is NULL");
    std::string overload_name = overload == nullptr ? "" : overload;
    std::string key = std::string(name) + "." + overload_name;
    std::lock_guard<std::mutex> lock(ops_mutex);
    auto found = ops.find(key);
    if (found == ops.end()) {
      auto handle = c10::Dispatcher::singleton().findSchema({name, overload_name});
      if (!handle.has_value())
        throw ArgumentError("no operator " + std::string(name) + (overload_name.empty() ? "" : "." + overload_name) +
                            " is registered");
      std::ostringstream schema;
      schema << handle->schema();
      found = ops.emplace(key, std::unique_ptr<psd_op>(new psd_op{*handle, schema.str()})).first;
    }
    *ret_op = found->second.get();
  });
}

int32_t psd_op_schema(const psd_op *op, const char **ret_schema) {
  return guarded([&] {
    if (op == nullptr) throw ArgumentError("operator handle is NULL");
    schema_text = op->schema;
    *out(ret_schema) = schema_text.c_str();
  });
}

int32_t psd_op_call(const psd_op *op, const psd_value *args, int64_t count_args, psd_value *ret_values,
                    int64_t capacity, int64_t *ret_count) {
  return guarded([&] {
    if (op == nullptr) throw ArgumentError("operator handle is NULL");
    out(ret_count, "ret_count");
    if (count_args > 0 && args == nullptr) throw ArgumentError("args is NULL");
    const auto &arguments = op->handle.schema().arguments();
    if (count_args < 0 || count_args > static_cast<int64_t>(arguments.size()))
      throw ArgumentError(op->schema + " takes " + std::to_string(arguments.size()) + " arguments, got " +
                          std::to_string(count_args));
    torch::jit::Stack stack;
    stack.reserve(arguments.size());
    for (size_t i = 0; i < arguments.size(); i++) {
      if (static_cast<int64_t>(i) < count_args) {
        stack.push_back(to_ivalue(args[i], arguments[i], static_cast<int64_t>(i)));
      } else if (arguments[i].default_value().has_value()) {
        stack.push_back(*arguments[i].default_value());
      } else {
        throw ArgumentError(op->schema + ": missing argument " + std::to_string(i) + " '" + arguments[i].name() + "'");
      }
    }
    op->handle.callBoxed(&stack);
    int64_t n = count_results(stack);
    *ret_count = n;
    if (n > capacity)
      throw ArgumentError(op->schema + " returned " + std::to_string(n) + " values but capacity is " +
                          std::to_string(capacity));
    if (n > 0) out(ret_values, "ret_values");
    write_results(stack, ret_values);
  });
}

}  // extern "C"
