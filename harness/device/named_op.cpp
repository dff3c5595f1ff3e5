#include "harness/device/named_op.h"

#include <algorithm>

#include "harness/common/error.h"

namespace kvbench {

NamedOp::NamedOp(const char* op, const std::vector<std::string>& given) {
  const auto handle = c10::Dispatcher::singleton().findOp({op, ""});
  if (!handle.has_value() || !handle->hasSchema()) return;
  const std::vector<c10::Argument>& schema = handle->schema().arguments();
  for (const std::string& name : given)
    if (std::none_of(schema.begin(), schema.end(), [&](const c10::Argument& a) { return a.name() == name; })) return;
  for (const c10::Argument& arg : schema) {
    const bool is_given = std::find(given.begin(), given.end(), arg.name()) != given.end();
    if (!is_given && !arg.default_value().has_value() && arg.type()->kind() != c10::TypeKind::OptionalType) return;
  }
  handle_ = *handle;
}

at::Tensor NamedOp::call(const std::vector<std::pair<std::string, c10::IValue>>& args) const {
  KV_CHECK(handle_.has_value(), "internal error: a libtorch operator this build does not have was called");
  std::vector<c10::IValue> stack;
  for (const c10::Argument& arg : handle_->schema().arguments()) {
    const auto it = std::find_if(args.begin(), args.end(), [&](const auto& a) { return a.first == arg.name(); });
    if (it != args.end()) stack.push_back(it->second);
    else if (arg.default_value().has_value()) stack.push_back(*arg.default_value());
    else stack.emplace_back();  // an optional argument: None
  }
  handle_->callBoxed(&stack);
  return stack.at(0).toTensor();
}

}  // namespace kvbench
