// Policy construction and kept sets derived by hand.
#include <gtest/gtest.h>

#include "harness/common/error.h"
#include "policies/registry.h"

namespace kvbench {
namespace {

LayerView view(std::int64_t heads, std::int64_t T) {
  LayerView v;
  v.layer = 0;
  v.num_layers = 1;
  v.keys = at::randn({heads, T, 4});
  v.values = at::randn({heads, T, 4});
  v.token_ids = at::arange(T, at::kLong);
  return v;
}

std::vector<std::int64_t> head_positions(const KeptPositions& k, std::int64_t h) {
  const at::Tensor t = k.head(h).contiguous();
  return std::vector<std::int64_t>(t.data_ptr<std::int64_t>(), t.data_ptr<std::int64_t>() + t.numel());
}

TEST(Policies, StreamingKeepsSinksAndRecent) {
  // T = 10, budget 6, sinks 2: the first 2 positions and the last 6 - 2 = 4, i.e. {0, 1, 6, 7, 8, 9}.
  auto p = make_policy({"streaming", 6, {{"sinks", 2}}});
  const KeptPositions k = p->select(view(3, 10));
  ASSERT_EQ(k.num_heads(), 3);
  for (std::int64_t h = 0; h < 3; ++h) EXPECT_EQ(head_positions(k, h), (std::vector<std::int64_t>{0, 1, 6, 7, 8, 9}));
  EXPECT_TRUE(k.is_uniform());
  EXPECT_FALSE(k.everything);
  EXPECT_EQ(p->describe(), "streaming(budget=6, sinks=2)");
}

TEST(Policies, StreamingDefaultSinksAndShortPrompts) {
  // Default sinks = 4: T = 12, budget 8 keeps {0..3} and {8..11}.
  auto p = make_policy({"streaming", 8});
  EXPECT_EQ(head_positions(p->select(view(1, 12)), 0), (std::vector<std::int64_t>{0, 1, 2, 3, 8, 9, 10, 11}));
  // T <= budget: nothing is evicted.
  const KeptPositions all = p->select(view(2, 8));
  EXPECT_TRUE(all.everything);
  EXPECT_EQ(all.total(), 16);
  // sinks = 0 is a pure recent window: T = 5, budget 2 keeps {3, 4}.
  auto recent = make_policy({"streaming", 2, {{"sinks", 0}}});
  EXPECT_EQ(head_positions(recent->select(view(1, 5)), 0), (std::vector<std::int64_t>{3, 4}));
}

TEST(Policies, FullKeepsEverything) {
  auto p = make_policy({"full"});
  const KeptPositions k = p->select(view(2, 7));
  EXPECT_TRUE(k.everything);
  EXPECT_EQ(head_positions(k, 1), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(Policies, SpecErrors) {
  EXPECT_THROW(make_policy({"nonsense"}), Error);
  EXPECT_THROW(make_policy({"streaming"}), Error);                        // no budget
  EXPECT_THROW(make_policy({"streaming", 0}), Error);                     // budget must be positive
  EXPECT_THROW(make_policy({"streaming", 4, {{"sinks", 4}}}), Error);     // sinks must leave room
  EXPECT_THROW(make_policy({"streaming", 8, {{"sinkz", 2}}}), Error);     // typo: unknown parameter
  EXPECT_THROW(make_policy({"streaming", 8, {{"sinks", "two"}}}), Error); // wrong type
  EXPECT_THROW(make_policy({"full", std::nullopt, {{"x", 1}}}), Error);
  try {
    make_policy({"streaming", 8, {{"sinkz", 2}}});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown parameter 'sinkz'"), std::string::npos);
  }
}

TEST(Policies, KeptPositionsLayouts) {
  const KeptPositions r = KeptPositions::ragged({at::tensor({1, 5}, at::kLong), at::tensor({0, 2, 3}, at::kLong)});
  EXPECT_EQ(r.offsets, (std::vector<std::int64_t>{0, 2, 5}));
  EXPECT_FALSE(r.is_uniform());
  EXPECT_EQ(head_positions(r, 1), (std::vector<std::int64_t>{0, 2, 3}));
  const KeptPositions u = KeptPositions::uniform(at::tensor({0, 4, 1, 3}, at::kLong).view({2, 2}));
  EXPECT_EQ(u.offsets, (std::vector<std::int64_t>{0, 2, 4}));
  EXPECT_TRUE(u.is_uniform());
  EXPECT_EQ(head_positions(u, 1), (std::vector<std::int64_t>{1, 3}));
}

}  // namespace
}  // namespace kvbench
