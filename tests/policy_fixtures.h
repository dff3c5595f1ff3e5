#pragma once
// Small builders shared by the policy and engine tests: a sequence's shape, hand-written per-head rows, a
// head's kept positions, and the tiny Llama checkpoint spec the engine-level tests write.

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "harness/model/random_checkpoint.h"
#include "policies/policy.h"

namespace kvbench::test {

/// The SequenceInfo of a prompt of T tokens (element size 2, as bf16).
inline SequenceInfo sequence_info(std::int64_t T, std::int64_t L = 1, std::int64_t Hkv = 2, std::int64_t Hq = 4,
                                  std::int64_t d = 4) {
  SequenceInfo info;
  info.prompt_len = T;
  info.num_layers = L;
  info.num_heads = Hq;
  info.num_kv_heads = Hkv;
  info.head_dim = d;
  info.element_bytes = 2;
  return info;
}

/// [H, n, 2] float32 from one list of (x, y) rows per head.
inline at::Tensor heads_of(const std::vector<std::vector<std::vector<float>>>& heads) {
  const auto H = static_cast<std::int64_t>(heads.size()), n = static_cast<std::int64_t>(heads[0].size());
  at::Tensor t = at::zeros({H, n, 2});
  for (std::int64_t h = 0; h < H; ++h)
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < 2; ++i) t[h][j][i] = heads[h][j][i];
  return t;
}

/// An int64 tensor's values on the host.
inline std::vector<std::int64_t> as_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU, at::kLong).contiguous();
  return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

/// The positions head h keeps.
inline std::vector<std::int64_t> head_positions(const KeptPositions& k, std::int64_t h) { return as_vector(k.head(h)); }

/// A 2-layer Llama of hidden 64 with 4 query and 2 KV heads over a vocabulary of 96.
inline RandomModelSpec small_llama_spec(std::uint64_t seed) {
  RandomModelSpec s;
  s.family = "llama";
  s.vocab_size = 96;
  s.hidden_size = 64;
  s.intermediate_size = 96;
  s.num_layers = 2;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.seed = seed;
  return s;
}

}  // namespace kvbench::test
