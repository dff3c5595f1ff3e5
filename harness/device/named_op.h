#pragma once
// libtorch's private operators (aten::_flash_attention_forward's window sizes, aten::_grouped_mm) called through
// the dispatcher by argument name: their C++ signatures change between releases and older ones lack them, so
// kvbench neither links against them nor fails to build without them.

#include <ATen/core/dispatch/Dispatcher.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kvbench {

/// One operator looked up once by name, then called with its arguments by name.
class NamedOp {
 public:
  /// Finds `op` ("aten::_grouped_mm"). It is available only where every name in `given` is an argument of its
  /// schema and each other argument has a default or takes None, so that a call can never leave out something
  /// the operator needs.
  NamedOp(const char* op, const std::vector<std::string>& given);
  bool available() const { return handle_.has_value(); }
  /// Calls it (available() only) with `args` (names from `given`), every other argument at its default or None,
  /// and returns its first output.
  at::Tensor call(const std::vector<std::pair<std::string, c10::IValue>>& args) const;

 private:
  std::optional<c10::OperatorHandle> handle_;
};

}  // namespace kvbench
