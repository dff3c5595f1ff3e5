#pragma once
// An independent float64 oracle for the engine tests: the Llama-family decoder written the plain way
// (explicit per-head loops, RoPE angles computed per frequency from the formulas, an explicit visibility
// mask), sharing no code with harness/model or harness/engine. Eviction is expressed as a mask: a policy's
// compressed cache must give the same logits as full attention with the evicted positions hidden.

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "harness/model/random_checkpoint.h"

namespace kvbench::test {

class ReferenceModel {
 public:
  ReferenceModel(const std::map<std::string, at::Tensor>& weights, const RandomModelSpec& spec);

  /// float64 logits [S, V] for `ids` (positions 0..S-1). `visible` is bool [L, Hkv, S, S] (or [L, Hq, S, S], one
  /// per query head): entry [l, h, i, j] says whether query i may attend key j in layer l, head h; undefined means
  /// causal.
  at::Tensor logits(const std::vector<std::int64_t>& ids, const at::Tensor& visible = at::Tensor()) const;

  /// The causal mask [L, Hkv, S, S].
  at::Tensor causal_mask(std::int64_t seq_len) const;
  /// The mask of a decode after eviction: prompt rows (< prompt_len) are causal over everything; later rows
  /// see the prompt positions kept[l][h] plus every position >= prompt_len up to themselves. kept[l] has one
  /// list per KV head, or per query head.
  at::Tensor eviction_mask(std::int64_t seq_len, std::int64_t prompt_len,
                           const std::vector<std::vector<std::vector<std::int64_t>>>& kept) const;

  std::int64_t num_layers() const { return layers_; }
  std::int64_t num_kv_heads() const { return kv_heads_; }

 private:
  at::Tensor w(const std::string& name) const;
  std::map<std::string, at::Tensor> weights_;  // float64
  std::int64_t layers_, heads_, kv_heads_, head_dim_;
  double eps_;
  std::vector<double> inv_freq_;
  bool tied_;
};

}  // namespace kvbench::test
