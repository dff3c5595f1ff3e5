#include "harness/engine/prefill_pass.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "harness/common/error.h"
#include "harness/common/interrupt.h"
#include "harness/common/system.h"
#include "harness/device/stage_profile.h"
#include "harness/engine/attention.h"

namespace kvbench {
namespace {
// KVBENCH_PREFILL_Q_LAYOUT=head keeps q head-major on the SDPA path too (to compare the two layouts).
bool token_major_queries() {
  static const bool token = system::env_choice("KVBENCH_PREFILL_Q_LAYOUT", {"token", "head"}) == "token";
  return token;
}

// The pass's stage names, built once rather than at every lap.
struct StageNames {
  std::string qkv, attention, hook, mlp;
  explicit StageNames(const std::string& p)
      : qkv(p + ": norm, qkv, rope"), attention(p + ": attention"), hook(p + ": compression"),
        mlp(p + ": o_proj, norm, mlp") {}
};
}  // namespace

at::Tensor run_prefill_pass(const Transformer& model, const at::Tensor& ids, std::int64_t chunk,
                            const PrefillLayerHook& hook, bool finish_last, const char* stage, std::int64_t prompt_len) {
  const ModelConfig& c = model.config();
  const at::Device dev = model.device();
  const std::int64_t N = ids.numel(), Hq = c.num_heads, Hkv = c.num_kv_heads, d = c.head_dim;
  const StageNames names(stage);
  // The prompt's length is its RoPE scale (dynamic NTK, longrope), as for HF's forward over the prompt.
  const RopeTables tables =
      model.rope_tables(at::arange(N, ids.options().dtype(at::kLong).device(dev)), prompt_len > 0 ? prompt_len : N);
  at::Tensor hidden = model.embed(ids);  // [N, D]
  const auto opts = hidden.options();
  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    check_interrupt();  // a long prompt's prefill takes minutes on a CPU: a signal must not wait for it
    StageClock clock(dev);  // KVBENCH_PROFILE_POLICIES=1: where a prefill's time goes (syncs at each lap)
    at::Tensor attn;        // [N, Hq d]
    const AttentionSpec spec = prefill_spec(model.attention(l), N);  // a window as long as the pass is none
    const bool token_major_q = uses_sdpa(dev, model.dtype(), spec) && token_major_queries();
    {
      // q, k and v of the whole sequence, seen head-major; they die with this block unless the hook keeps k and
      // v. On the SDPA path q is stored token-major, so RoPE writes whole rows and attention's output comes back
      // in [N, Hq d] order without a transposing copy (256 MB per layer at 32k).
      at::Tensor q = token_major_q ? at::empty({N, Hq, d}, opts).transpose(0, 1) : at::empty({Hq, N, d}, opts);
      at::Tensor k = at::empty({Hkv, N, d}, opts), v = at::empty({Hkv, N, d}, opts);
      for (std::int64_t s = 0; s < N; s += chunk) {
        const std::int64_t n = std::min(chunk, N - s);
        model.project_qkv_into(l, hidden.narrow(0, s, n), tables.narrow(s, n), q.narrow(1, s, n).transpose(0, 1),
                               k.narrow(1, s, n).transpose(0, 1), v.narrow(1, s, n).transpose(0, 1));
      }
      clock.lap(names.qkv.c_str());
      attn = prefill_attention(q, k, v, spec, chunk);
      clock.lap(names.attention.c_str());
      hook(l, q, k, v);
      clock.lap(names.hook.c_str());
    }
    if (!finish_last && l + 1 == c.num_layers) return {};
    for (std::int64_t s = 0; s < N; s += chunk) {
      const std::int64_t n = std::min(chunk, N - s);
      model.finish_layer_(l, hidden.narrow(0, s, n), attn.narrow(0, s, n));
    }
    clock.lap(names.mlp.c_str());
  }
  return hidden;
}

}  // namespace kvbench
