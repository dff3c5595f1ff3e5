#pragma once
// One prefill pass over the layer stack, shared by Engine::prefill's plain pass over the prompt and KVzip's
// reconstruction pass over prompt ++ repeat instruction ++ prompt: per layer, q/k/v with RoPE, causal
// attention, a hook that sees q, k and v (where policies compress), then o_proj and the MLP.

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>

#include "harness/model/transformer.h"

namespace kvbench {

/// Called right after layer `layer`'s attention with its post-RoPE q [Hq, N, d] (possibly token-major strides)
/// and k, v [Hkv, N, d]; they are freed after the call unless the hook keeps them.
using PrefillLayerHook =
    std::function<void(std::int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v)>;

/// Runs int64 `ids` [N] (positions 0 .. N - 1) through every layer, `chunk` rows at a time for projections and
/// the MLP, calling `hook` per layer. Returns the last layer's output [N, D] (before the final norm); with
/// `finish_last` false the last layer stops after its hook, for a pass whose output nobody reads, and the
/// result is undefined. `stage` prefixes the KVBENCH_PROFILE_POLICIES stage names. `prompt_len` (0: N) is the
/// prompt length RoPE schedules that depend on it see (rope.h): a pass that continues a prompt (KVzip's
/// reconstruction) gives the prompt's, so that its first rows equal the plain pass's.
at::Tensor run_prefill_pass(const Transformer& model, const at::Tensor& ids, std::int64_t chunk,
                            const PrefillLayerHook& hook, bool finish_last, const char* stage,
                            std::int64_t prompt_len = 0);

}  // namespace kvbench
