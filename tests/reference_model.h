#pragma once
// An independent float64 oracle for the engine tests: every supported family's decoder written the plain way
// (explicit per-head loops, RoPE angles computed per frequency from the published formulas, an explicit
// visibility mask, experts routed token by token), sharing no forward-pass code with harness/model or
// harness/engine (it reads the parsed ModelConfig for which features are on). Eviction is expressed as a mask:
// a policy's compressed cache must give the same logits as full attention with the evicted positions hidden.

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "harness/model/model_config.h"
#include "harness/model/random_checkpoint.h"

namespace kvbench::test {

class ReferenceModel {
 public:
  /// `weights` by the names random checkpoints write (write_random_checkpoint's result).
  ReferenceModel(const std::map<std::string, at::Tensor>& weights, const RandomModelSpec& spec);
  ReferenceModel(const std::map<std::string, at::Tensor>& weights, ModelConfig config);

  /// float64 logits [S, V] for `ids` (positions 0..S-1), the first `prompt_len` of them a prompt run as one
  /// forward pass and the rest decoded one by one (dynamic NTK and longrope depend on it; 0: all prompt).
  /// `visible` is bool [L, Hkv, S, S] (or [L, Hq, S, S], one per query head): entry [l, h, i, j] says whether
  /// query i may attend key j in layer l, head h; undefined means causal (and each layer's sliding window).
  at::Tensor logits(const std::vector<std::int64_t>& ids, const at::Tensor& visible = at::Tensor(),
                    std::int64_t prompt_len = 0) const;

  /// The causal mask [L, Hkv, S, S], with each windowed layer's window.
  at::Tensor causal_mask(std::int64_t seq_len) const;
  /// The mask of a decode after eviction: prompt rows (< prompt_len) are causal over everything; later rows
  /// see the prompt positions kept[l][h] plus every position >= prompt_len up to themselves (and, on windowed
  /// layers, only what their window reaches). kept[l] has one list per KV head, or per query head.
  at::Tensor eviction_mask(std::int64_t seq_len, std::int64_t prompt_len,
                           const std::vector<std::vector<std::vector<std::int64_t>>>& kept) const;

  std::int64_t num_layers() const { return c_.num_layers; }
  std::int64_t num_kv_heads() const { return c_.num_kv_heads; }
  const ModelConfig& config() const { return c_; }

 private:
  at::Tensor w(const std::string& name) const;
  /// Inverse frequencies of layer `l`'s RoPE for a forward pass reaching `length` positions of a prompt of
  /// `prompt_len`, and the attention factor on cos/sin.
  std::vector<double> inv_freq(std::int64_t l, std::int64_t length, std::int64_t prompt_len, double* factor) const;
  at::Tensor mlp(std::int64_t l, const at::Tensor& x) const;
  std::map<std::string, at::Tensor> weights_;  // float64
  ModelConfig c_;
  std::string prefix_;
};

}  // namespace kvbench::test
