// NamedOp: libtorch operators found and called by argument name (how kvbench reaches the flash kernel's window
// sizes and the grouped matrix product without linking against their C++ signatures). Checked on operators every
// libtorch has, so the lookup rules hold on the CPU build too.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "harness/common/error.h"
#include "harness/device/named_op.h"

namespace kvbench {
namespace {

TEST(NamedOp, CallsByNameWithTheRestAtTheirDefaults) {
  const NamedOp mm("aten::mm", {"self", "mat2"});
  ASSERT_TRUE(mm.available());
  const at::Tensor a = at::arange(6, at::kFloat).view({2, 3}), b = at::arange(12, at::kFloat).view({3, 4});
  // Given in another order than the schema's: placed by name.
  EXPECT_TRUE(mm.call({{"mat2", b}, {"self", a}}).equal(at::mm(a, b)));
  // An argument with a default (aten::sum's dtype) is filled in.
  const NamedOp sum("aten::sum", {"self"});
  ASSERT_TRUE(sum.available());
  EXPECT_TRUE(sum.call({{"self", a}}).equal(at::sum(a)));
}

TEST(NamedOp, UnavailableWhereACallCouldLeaveSomethingOut) {
  EXPECT_FALSE(NamedOp("aten::no_such_operator_in_any_libtorch", {"self"}).available());
  // A name the schema does not have (an older libtorch without window sizes, say).
  EXPECT_FALSE(NamedOp("aten::mm", {"self", "mat2", "window_size_left"}).available());
  // An argument without a default that is not given.
  EXPECT_FALSE(NamedOp("aten::mm", {"self"}).available());
  EXPECT_THROW(NamedOp("aten::mm", {"self"}).call({{"self", at::ones({2, 2})}}), Error);
}

}  // namespace
}  // namespace kvbench
