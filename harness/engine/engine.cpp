#include "harness/engine/engine.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <algorithm>
#include <limits>
#include <map>
#include <string>

#include "harness/common/error.h"
#include "harness/common/interrupt.h"
#include "harness/common/log.h"
#include "harness/engine/attention.h"
#include "harness/engine/batch_cache.h"
#include "harness/engine/prefill_pass.h"
#include "harness/engine/ragged_decoder.h"
#include "harness/device/cuda_graph.h"
#include "harness/device/fault.h"
#include "harness/device/memory.h"
#include "harness/model/tensor_util.h"
#include "harness/device/transfer.h"
#include "policies/components.h"
#include "harness/device/stage_profile.h"


namespace kvbench {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr std::int64_t kMaxPositionsFactor = 8;

void check_positions(const ModelConfig& c, std::int64_t positions, const std::string& what) {
  KV_CHECK(positions <= kMaxPositionsFactor * c.max_position_embeddings, what, ": ", positions,
           " positions is more than ", kMaxPositionsFactor, "x this model's max_position_embeddings (",
           c.max_position_embeddings, ")");
}

void check_generate_options(const GenerateOptions& options) {
  KV_CHECK(options.max_new_tokens >= 0, "max new tokens must be >= 0");
  KV_CHECK(options.min_new_tokens >= 0 && options.min_new_tokens <= options.max_new_tokens,
           "min new tokens must be in [0, max new tokens]");
}

// Greedy decoding of B sequences that share their forward passes (B = 1: decode(); more: decode_batch()).
// `step(previous tokens [B])` runs one pass and returns float32 logits [B, V]; the first token comes from
// `last_logits` [V] of the prefill. Generated ids stay on the device; the host looks at them only every
// `interval` steps, so the loop does not wait for the device each token. Steps run past a sequence's stop
// are discarded, so results do not change.
template <typename Step>
std::vector<GenerationResult> greedy_decode(std::int64_t B, const at::Tensor& last_logits,
                                            const GenerateOptions& options, at::Device dev, Step&& step) {
  std::vector<GenerationResult> results(B);
  for (auto& r : results) {
    r.stop_reason = "max_new_tokens";
    r.batch_size = B;
  }
  const std::int64_t max_new = options.max_new_tokens;
  if (max_new == 0) return results;
  const std::int64_t interval = options.sync_interval > 0 ? options.sync_interval : (dev.is_cuda() ? 16 : 1);
  const at::Tensor stop_ids =
      at::tensor(options.stop_ids.empty() ? std::vector<std::int64_t>{} : options.stop_ids, at::kLong).to(dev);
  at::Tensor tokens = at::empty({max_new, B}, at::TensorOptions().dtype(at::kLong).device(dev));

  auto choose = [&](at::Tensor logits, std::int64_t index) {  // logits [B, V]
    if (index < options.min_new_tokens && stop_ids.numel() > 0)
      logits = logits.index_fill(1, stop_ids, -std::numeric_limits<float>::infinity());
    if (options.keep_step_logits) {
      const at::Tensor host = logits.to(at::kCPU);
      for (std::int64_t b = 0; b < B; ++b) results[b].step_logits.push_back(host[b]);
    }
    return logits.argmax(1);
  };

  const auto t0 = Clock::now();
  std::unique_ptr<StepTimer> timer;
  if (options.time_steps) timer = std::make_unique<StepTimer>(dev);
  // [V] (one prefill for all) or [B, V] (each sequence its own, after extend()).
  const at::Tensor first = last_logits.dim() == 2 ? last_logits : last_logits.reshape({1, -1}).expand({B, last_logits.size(-1)});
  tokens[0].copy_(choose(first, 0));
  if (timer) timer->mark();
  std::int64_t checked = 0, produced = 1, steps = 0, running = B;  // tokens[0, checked) seen by the host
  std::vector<bool> stopped(B, false);
  auto scan = [&]() {
    const at::Tensor host = tokens.narrow(0, checked, produced - checked).to(at::kCPU).contiguous();
    const auto* p = host.data_ptr<std::int64_t>();
    for (std::int64_t b = 0; b < B; ++b) {
      for (std::int64_t i = 0; i < produced - checked && !stopped[b]; ++i) {
        const std::int64_t id = p[i * B + b];
        results[b].output_ids.push_back(id);
        // choose() masks stop ids before min_new_tokens, so any stop id seen here ends that sequence.
        if (std::find(options.stop_ids.begin(), options.stop_ids.end(), id) != options.stop_ids.end()) {
          stopped[b] = true;
          results[b].stop_reason = "stop_token";
          --running;
        }
      }
    }
    checked = produced;
  };
  while (true) {
    if (produced - checked >= interval || produced == max_new) scan();
    if (running == 0 || produced == max_new) break;
    check_interrupt();
    const at::Tensor logits = step(tokens[produced - 1]);
    ++steps;
    tokens[produced].copy_(choose(logits, produced));
    ++produced;
    if (timer) timer->mark();
  }
  synchronize(dev);
  const double seconds = seconds_since(t0);
  const std::vector<double> step_seconds = timer ? timer->intervals() : std::vector<double>{};
  for (auto& r : results) {
    if (options.keep_step_logits) r.step_logits.resize(r.output_ids.size());
    r.decode_seconds = seconds;
    r.decode_steps = steps;
    r.step_seconds = step_seconds;
  }
  return results;
}
}  // namespace

void check_prompt_size(const ModelConfig& c, at::ScalarType dtype, at::Device device, std::int64_t tokens,
                       const std::string& what) {
  KV_CHECK(tokens >= 1, what, " must be at least 1 token, got ", tokens);
  check_positions(c, tokens, what);
  // Per prompt token: the hidden state and its temporaries, q/k/v, attention output, and one full K/V cache.
  const std::int64_t elem = static_cast<std::int64_t>(c10::elementSize(dtype));
  check_fits(prefill_activation_bytes(c, elem, tokens) + c.kv_bytes_per_token(elem) * tokens, device,
             what + " (" + std::to_string(tokens) + " tokens)");
}

std::int64_t prefill_activation_bytes(const ModelConfig& c, std::int64_t element_bytes, std::int64_t tokens) {
  return tokens * element_bytes * (4 * c.hidden_size + 2 * (c.num_heads + 2 * c.num_kv_heads) * c.head_dim);
}

void check_generation_size(const ModelConfig& c, at::ScalarType dtype, at::Device device, std::int64_t first_position,
                           std::int64_t new_tokens, std::int64_t batch, const std::string& what) {
  KV_CHECK(new_tokens >= 0, what, " must be >= 0, got ", new_tokens);
  check_positions(c, first_position + new_tokens, what);
  const std::int64_t elem = static_cast<std::int64_t>(c10::elementSize(dtype));
  const std::int64_t per_token = batch * (c.kv_bytes_per_token(elem) + 8);
  check_fits(per_token * new_tokens, device, what + " (" + std::to_string(new_tokens) + " new tokens)");
}

const char* sliding_layers_name(SlidingLayers mode) {
  switch (mode) {
    case SlidingLayers::kAuto: return "auto";
    case SlidingLayers::kWindow: return "window";
    case SlidingLayers::kCompress: return "compress";
  }
  return "?";
}

SlidingLayers parse_sliding_layers(const std::string& name, const std::string& where) {
  for (SlidingLayers m : {SlidingLayers::kAuto, SlidingLayers::kWindow, SlidingLayers::kCompress})
    if (name == sliding_layers_name(m)) return m;
  fail(where, ": '", name, "' is not a sliding-layer mode (auto, window or compress)");
}

SlidingLayers resolve_sliding_layers(SlidingLayers mode, const ModelConfig& config) {
  KV_CHECK(mode != SlidingLayers::kWindow || config.sliding_window == 0 || config.num_full_attention_layers() > 0,
           "sliding layers 'window': every layer of this model is windowed, so the policies would compress nothing; "
           "use 'compress' (or 'auto')");
  if (mode != SlidingLayers::kAuto) return mode;
  // A model whose every layer is windowed (Mistral v0.1, Phi-3-mini) would leave the policies nothing to compress.
  return config.sliding_window > 0 && config.num_full_attention_layers() == 0 ? SlidingLayers::kCompress
                                                                              : SlidingLayers::kWindow;
}

SequenceInfo policy_sequence_info(const ModelConfig& c, std::int64_t element_bytes, std::int64_t prompt_len,
                                  SlidingLayers mode) {
  const bool keep_windows = resolve_sliding_layers(mode, c) == SlidingLayers::kWindow;
  SequenceInfo info;
  info.prompt_len = prompt_len;
  info.num_layers = keep_windows ? c.num_full_attention_layers() : c.num_layers;
  info.num_heads = c.num_heads;
  info.num_kv_heads = c.num_kv_heads;
  info.head_dim = c.head_dim;
  info.element_bytes = element_bytes;
  if (keep_windows)  // each windowed layer holds its last window - 1 prompt positions
    info.reserved_bytes = (c.num_layers - info.num_layers) * 2 * c.num_kv_heads * c.head_dim * element_bytes *
                          std::min(prompt_len, c.sliding_window - 1);
  return info;
}

const std::vector<std::string>& decode_path_names() {
  static const std::vector<std::string> names = {"auto", "graph", "ragged", "reference"};
  return names;
}

Engine::Engine(const Transformer& model) : model_(model), decoders_(std::make_shared<RaggedDecoders>()) {}

std::string Engine::resolve_decode_path(const std::string& requested) const {
  const auto& names = decode_path_names();
  KV_CHECK(std::find(names.begin(), names.end(), requested) != names.end(), "unknown decode path '", requested,
           "' (use auto, graph, ragged or reference)");
  const bool cuda = model_.device().is_cuda();
  if (requested == "auto") return cuda && RaggedDecoder::supports(model_) ? "graph" : "reference";
  if (requested == "reference") return requested;
  KV_CHECK(requested != "graph" || (cuda && CapturedGraph::available()), "decode path 'graph' needs a CUDA device "
           "and a libtorch with CUDA (this run: ", model_.device().str(), ")");
  const ModelConfig& c = model_.config();
  KV_CHECK(RaggedDecoder::supports(model_), "decode path '", requested, "' does not compute this model (head dim ",
           c.head_dim, ", ", c.num_heads / std::max<std::int64_t>(1, c.num_kv_heads), " query heads per KV head, ",
           short_dtype_name(model_.dtype()), c.rotary_dim != c.head_dim ? ", partial rotary" : "",
           c.num_experts > 0 ? ", experts" : "", "); use reference");
  return requested;
}

std::vector<GenerationResult> Engine::ragged_decode(const std::vector<const KvCache*>& caches,
                                                    const at::Tensor& last_logits, const GenerateOptions& options,
                                                    bool graphs, KvCache* extend) const {
  const std::int64_t B = static_cast<std::int64_t>(caches.size());
  RaggedDecoder& decoder = decoders_->get(model_, caches, options.max_new_tokens, graphs);
  decoder.bind(caches);
  std::vector<GenerationResult> results = greedy_decode(
      B, last_logits, options, model_.device(), [&](const at::Tensor& previous) { return decoder.step(previous); });
  if (extend != nullptr) {
    decoder.copy_tail_to(0, *extend);
    extend->next_position += decoder.steps();
  }
  for (auto& r : results) r.decode_path = graphs ? "graph" : "ragged";
  return results;
}

namespace {
// Runs `step` for policy i; with isolation a throw marks that policy failed (its cache emptied) instead of
// ending the prefill. Failed policies are skipped from then on.
template <typename Step>
void for_policy(PrefillResult& result, std::size_t i, bool isolate, Step&& step) {
  if (result.policy_failed(i)) return;
  if (!isolate) return step();
  try {
    step();
  } catch (const std::exception&) {
    result.policy_errors[i] = std::current_exception();
    result.caches[i] = KvCache{};
  }
}

// What both passes of one prefill share: the policies, their results, and what every layer view carries.
struct PrefillPolicies {
  const Transformer& model;
  const std::vector<EvictionPolicy*>& policies;
  PrefillResult& result;
  std::vector<std::unique_ptr<StepTimer>>& timers;  // one per policy, or empty: untimed
  bool isolate;
  at::Tensor ids;                          // the prompt's, [T]
  SlidingLayers sliding;                   // kWindow or kCompress
  std::vector<std::int64_t> policy_layer;  // per model layer: its index among the layers policies see, or -1
  std::int64_t policy_layers = 0;

  PrefillPolicies(const Transformer& m, const std::vector<EvictionPolicy*>& p, PrefillResult& r,
                  std::vector<std::unique_ptr<StepTimer>>& t, bool iso, at::Tensor prompt, SlidingLayers mode)
      : model(m), policies(p), result(r), timers(t), isolate(iso), ids(std::move(prompt)),
        sliding(resolve_sliding_layers(mode, m.config())) {
    for (std::int64_t l = 0; l < m.config().num_layers; ++l) {
      const bool mine = !(windowed(l) && sliding == SlidingLayers::kWindow);
      policy_layer.push_back(mine ? policy_layers++ : -1);
    }
  }

  bool windowed(std::int64_t l) const { return model.attention(l).window > 0; }
  // The prompt positions [first, T) a windowed layer's later queries can still see (all for other layers).
  std::int64_t first_visible(std::int64_t l) const {
    const std::int64_t T = ids.numel();
    return windowed(l) ? std::max<std::int64_t>(0, T - (model.attention(l).window - 1)) : 0;
  }
  // Layer l as the policies see it; `k` and `v` [Hkv, T, d] are also what their caches keep entries from.
  LayerView view(std::int64_t l, const at::Tensor& k, const at::Tensor& v, LayerMemo& memo) const {
    LayerView view;
    view.memo = &memo;
    view.layer = policy_layer[static_cast<std::size_t>(l)];
    view.num_layers = policy_layers;
    view.keys = k;
    view.values = v;
    view.token_ids = ids;
    view.scale = model.attention(l).scale;
    view.num_query_heads = model.config().num_heads;
    view.out_proj = model.layer_weights(l).o_weight;                     // CriticalKV weighs values through o_proj;
    view.rope_inv_freq = model.rope(l).inverse_frequencies(ids.numel());  // Expected Attention undoes RoPE
    return view;
  }

  // What of `kept` layer l can still attend: a windowed layer (kCompress) drops the positions its window no
  // longer sees, as HF's sliding-window cache does.
  KeptPositions visible(std::int64_t l, KeptPositions kept) const {
    const std::int64_t first = first_visible(l);
    if (first == 0) return kept;
    std::vector<at::Tensor> heads;
    for (std::int64_t h = 0; h < kept.num_heads(); ++h) {
      const at::Tensor positions = kept.head(h);  // ascending: the visible ones are a suffix
      const std::int64_t from = at::searchsorted(positions, at::scalar_tensor(first, positions.options())).item<std::int64_t>();
      heads.push_back(positions.narrow(0, from, positions.numel() - from));
    }
    return KeptPositions::ragged(heads);
  }

  // Model layer l kept as its window by every policy of `members` (kWindow).
  void keep_window(std::int64_t l, const at::Tensor& k, const at::Tensor& v, const std::vector<std::size_t>& members) {
    const std::int64_t T = ids.numel(), first = first_visible(l);
    const at::Tensor wk = k.narrow(1, first, T - first), wv = v.narrow(1, first, T - first);
    for (std::size_t i : members) {
      // A per-query-head cache holds its window once per query head, as its other layers hold their entries.
      const std::int64_t heads = policies[i]->granularity() == "query_head" ? model.config().num_heads : k.size(0);
      const KeptPositions all = KeptPositions::all(heads, T - first, k.device());
      for_policy(result, i, isolate, [&] { result.caches[i].layers[static_cast<std::size_t>(l)].set_prompt(wk, wv, all, first, T); });
    }
  }

  // The policies `members` choose what model layer l's cache keeps (sharing the view's memo of scores). When
  // `timed`, each policy's share is bracketed by device events (on CUDA; host clocks on the CPU), so timing it
  // never stalls the device.
  void compress(std::int64_t l, const LayerView& view, const std::vector<std::size_t>& members, bool timed) {
    const RankMemoScope rankings(view.memo);  // policies ranking the same scores sort them once
    for (std::size_t i : members) {
      for_policy(result, i, isolate, [&] {
        StepTimer* timer = timed && !timers.empty() ? timers[i].get() : nullptr;
        if (timer != nullptr) timer->mark();
        struct MarkAgain {  // the timer's marks stay paired when select throws
          StepTimer* timer;
          ~MarkAgain() { if (timer != nullptr) timer->mark(); }
        } mark_again{timer};
        fault_point("policy");
        const KeptPositions kept = visible(l, policies[i]->select(view));
        StageClock clock(view.keys.device());
        result.caches[i].layers[static_cast<std::size_t>(l)].set_prompt(view.keys, view.values, kept);
        clock.lap("engine: set_prompt");
      });
    }
  }
};

// KVzip's reconstruction pass for the policies `members` (PolicyInputs::reconstruction): X = prompt ++ repeat
// instruction ++ prompt, teacher-forced. Each layer shows them the prompt's keys and values (X's first T rows,
// the plain pass's since attention is causal), X's queries from T on and all of X's keys; their caches keep
// entries from those first T rows. The pass's wall time (device synchronized) is their compression time: it
// is what KVzip costs beyond a plain prefill.
void reconstruction_pass(PrefillPolicies& p, const std::vector<std::int64_t>& prompt_ids,
                         const PrefillOptions& options, std::int64_t chunk, const std::vector<std::size_t>& members) {
  const ModelConfig& c = p.model.config();
  const std::int64_t T = static_cast<std::int64_t>(prompt_ids.size());
  for (std::int64_t id : options.reconstruction_prompt)
    KV_CHECK(id >= 0 && id < c.vocab_size, "reconstruction prompt token id ", id, " is outside the vocabulary [0, ",
             c.vocab_size, ")");
  std::vector<std::int64_t> x = prompt_ids;
  x.insert(x.end(), options.reconstruction_prompt.begin(), options.reconstruction_prompt.end());
  x.insert(x.end(), prompt_ids.begin(), prompt_ids.end());
  const std::int64_t N = static_cast<std::int64_t>(x.size());
  const at::Device dev = p.model.device();
  check_prompt_size(c, p.model.dtype(), dev, N, "kvzip's reconstruction pass (the prompt, the repeat instruction "
                    "and the prompt again)");
  if (options.time_policies) synchronize(dev);  // the plain pass's work is not this pass's time
  const auto t0 = Clock::now();
  const at::Tensor ids = at::tensor(x, at::TensorOptions().dtype(at::kLong)).to(dev);
  const auto hook = [&](std::int64_t l, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
    if (p.policy_layer[static_cast<std::size_t>(l)] < 0) return p.keep_window(l, k.narrow(1, 0, T), v.narrow(1, 0, T), members);
    LayerMemo memo;
    // Copies, so that a cache keeping every entry does not hold all of X's keys alive.
    LayerView view = p.view(l, k.narrow(1, 0, T).contiguous(), v.narrow(1, 0, T).contiguous(), memo);
    view.queries = q.narrow(1, T, N - T).contiguous();
    view.reconstruction_keys = k;
    view.reconstruction_start = T;
    p.compress(l, view, members, /*timed=*/false);
  };
  run_prefill_pass(p.model, ids, chunk, hook, /*finish_last=*/false, "kvzip pass", /*prompt_len=*/T);
  if (!options.time_policies) return;
  synchronize(dev);
  const double seconds = seconds_since(t0);
  for (std::size_t i : members) p.result.policy_seconds[i] += seconds;
}

// The reconstruction pass for the members that have not failed; with isolation, a failure of the pass itself
// (too long for the device, out of memory) fails them alone.
void run_reconstruction(PrefillPolicies& p, const std::vector<std::int64_t>& prompt_ids, const PrefillOptions& options,
                        std::int64_t chunk, const std::vector<std::size_t>& members) {
  std::vector<std::size_t> live;
  for (std::size_t i : members)
    if (!p.result.policy_failed(i)) live.push_back(i);
  if (live.empty()) return;
  try {
    reconstruction_pass(p, prompt_ids, options, chunk, live);
  } catch (const std::exception&) {
    if (!options.isolate_policies) throw;
    for (std::size_t i : live) {
      p.result.policy_errors[i] = std::current_exception();
      p.result.caches[i] = KvCache{};
    }
  }
}
}  // namespace

PrefillResult Engine::prefill(const std::vector<std::int64_t>& prompt_ids, const std::vector<EvictionPolicy*>& policies,
                              const PrefillOptions& options) const {
  const ModelConfig& c = model_.config();
  const std::int64_t T = static_cast<std::int64_t>(prompt_ids.size());
  KV_CHECK(T > 0, "the prompt is empty");
  KV_CHECK(options.chunk_size >= 0, "prefill chunk size must be positive, got ", options.chunk_size);
  for (std::int64_t id : prompt_ids)
    KV_CHECK(id >= 0 && id < c.vocab_size, "prompt token id ", id, " is outside the vocabulary [0, ", c.vocab_size, ")");
  check_prompt_size(c, model_.dtype(), model_.device(), T, "the prompt");
  if (T > c.max_position_embeddings)
    log::warn("prompt of ", T, " tokens exceeds max_position_embeddings (", c.max_position_embeddings, ")");

  const auto t0 = Clock::now();
  const at::Device dev = model_.device();
  const at::Tensor ids = at::tensor(prompt_ids, at::TensorOptions().dtype(at::kLong)).to(dev);
  const std::int64_t chunk = options.chunk_size > 0 ? options.chunk_size : (dev.is_cuda() ? 8192 : 512);

  // Policies that score by reconstructing the prompt (KVzip) take part in the reconstruction pass only. The
  // plain pass's policies need the largest trailing query window any of them asks for, or all queries.
  std::vector<std::size_t> plain, rebuild;
  std::int64_t query_rows = 0;
  for (std::size_t i = 0; i < policies.size(); ++i) {
    const PolicyInputs in = policies[i]->inputs();
    (in.reconstruction ? rebuild : plain).push_back(i);
    if (!in.reconstruction) query_rows = std::max(query_rows, in.all_queries ? T : std::min(in.query_window, T));
  }

  PrefillResult result;
  result.caches.resize(policies.size());
  for (auto& cache : result.caches) {
    cache.layers.resize(c.num_layers);
    cache.prompt_len = T;
    cache.next_position = T;
  }
  std::vector<std::unique_ptr<StepTimer>> timers;
  PrefillPolicies p(model_, policies, result, timers, options.isolate_policies, ids, options.sliding_layers);
  const SequenceInfo info = policy_sequence_info(c, static_cast<std::int64_t>(c10::elementSize(model_.dtype())), T,
                                                 p.sliding);
  fault_point("prefill");
  result.policy_errors.assign(policies.size(), nullptr);
  for (std::size_t i = 0; i < policies.size(); ++i)
    for_policy(result, i, options.isolate_policies, [&] { policies[i]->begin_sequence(info); });
  result.policy_seconds.assign(policies.size(), 0.0);
  if (options.time_policies)
    for (std::size_t i = 0; i < policies.size(); ++i) timers.push_back(std::make_unique<StepTimer>(dev));

  const auto plain_hook = [&](std::int64_t l, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
    if (plain.empty()) return;
    if (p.policy_layer[static_cast<std::size_t>(l)] < 0) return p.keep_window(l, k, v, plain);
    LayerMemo memo;
    LayerView view = p.view(l, k, v, memo);
    // Scorers reshape their queries: a token-major q is copied (only the window's rows, or all for h2o).
    if (query_rows > 0) view.queries = q.narrow(1, T - query_rows, query_rows).contiguous();
    p.compress(l, view, plain, /*timed=*/true);
  };
  // Even with only reconstruction policies the plain pass runs: its logits start decoding (KVzip prefills the
  // context too).
  const at::Tensor hidden = run_prefill_pass(model_, ids, chunk, plain_hook, /*finish_last=*/true, "prefill");
  if (!rebuild.empty()) run_reconstruction(p, prompt_ids, options, chunk, rebuild);

  // Policies whose allocation needs every layer (CAKE) trim earlier layers now.
  for (std::size_t i = 0; i < policies.size(); ++i) {
    const auto t_policy = Clock::now();
    for_policy(result, i, options.isolate_policies, [&] {
      const auto trims = policies[i]->finish_sequence();
      KV_CHECK(trims.empty() || static_cast<std::int64_t>(trims.size()) == p.policy_layers, "policy ",
               policies[i]->describe(), " returned ", trims.size(), " trims for ", p.policy_layers, " layers");
      for (std::int64_t l = 0; l < c.num_layers && !trims.empty(); ++l) {
        const std::int64_t j = p.policy_layer[static_cast<std::size_t>(l)];
        if (j < 0 || !trims[static_cast<std::size_t>(j)]) continue;
        result.caches[i].layers[static_cast<std::size_t>(l)].keep_subset(p.visible(l, *trims[static_cast<std::size_t>(j)]));
      }
    });
    result.policy_seconds[i] += seconds_since(t_policy);
  }

  if (options.all_logits) {
    result.logits = at::empty({T, c.vocab_size}, at::TensorOptions().dtype(at::kFloat).device(dev));
    for (std::int64_t s = 0; s < T; s += chunk) {
      const std::int64_t n = std::min(chunk, T - s);
      result.logits.narrow(0, s, n).copy_(model_.logits(hidden.narrow(0, s, n)));
    }
    result.last_logits = result.logits[T - 1];
  } else {
    result.last_logits = model_.logits(hidden.narrow(0, T - 1, 1))[0];
  }
  synchronize(dev);
  for (std::size_t i = 0; i < timers.size(); ++i) result.policy_seconds[i] += timers[i]->paired_seconds();
  result.seconds = seconds_since(t0);
  return result;
}

at::Tensor Engine::decode_step(KvCache& cache, const at::Tensor& token, DecodeEvictor* evictor) const {
  const ModelConfig& c = model_.config();
  const at::Tensor position = at::full({1}, cache.next_position, at::TensorOptions().dtype(at::kLong).device(model_.device()));
  const RopeTables tables = model_.rope_tables(position, cache.prompt_len);
  at::Tensor x = model_.embed(token.reshape({1}));  // [1, D]
  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    const QkvProjection p = model_.project_qkv(l, x, tables);
    LayerCache& layer = cache.layers[l];
    layer.append(p.k[0], p.v[0]);
    if (evictor != nullptr) evictor->observe(l, layer, p.q[0]);
    const at::Tensor attn = decode_attention(layer, p.q[0], model_.attention(l), cache.next_position);
    x = model_.finish_layer(l, x, attn.unsqueeze(0));
  }
  ++cache.next_position;
  return model_.logits(x)[0];
}

GenerationResult Engine::decode(KvCache& cache, const at::Tensor& last_logits, const GenerateOptions& options) const {
  check_generate_options(options);
  check_generation_size(model_.config(), model_.dtype(), model_.device(), cache.next_position, options.max_new_tokens, 1,
                        "max new tokens");
  if (options.decode_budget.enabled()) return decode_with_eviction(cache, last_logits, options);
  const std::string path = resolve_decode_path(options.decode_path);
  if (path != "reference" && options.max_new_tokens > 0) {
    return ragged_decode({&cache}, last_logits, options, path == "graph", &cache)[0];
  }
  if (options.max_new_tokens > 0)
    for (auto& layer : cache.layers) layer.reserve_tail(options.max_new_tokens);
  GenerationResult out = greedy_decode(1, last_logits, options, model_.device(), [&](const at::Tensor& previous) {
    return decode_step(cache, previous[0]).unsqueeze(0);
  })[0];
  out.decode_path = "reference";
  return out;
}

GenerationResult Engine::decode_with_eviction(KvCache& cache, const at::Tensor& last_logits,
                                              const GenerateOptions& options) const {
  KV_CHECK(options.decode_path == "auto" || options.decode_path == "reference", "decode-time eviction runs on the "
           "reference decode path; decode path '", options.decode_path, "' was asked for");
  const ModelConfig& c = model_.config();
  std::vector<AttentionSpec> specs;
  for (std::int64_t l = 0; l < c.num_layers; ++l) specs.push_back(model_.attention(l));
  DecodeEvictor evictor(options.decode_budget, specs);
  if (options.max_new_tokens > 0)
    for (auto& layer : cache.layers) layer.reserve_tail(layer.tail_length() + options.decode_budget.every + 1);
  GenerationResult out = greedy_decode(1, last_logits, options, model_.device(), [&](const at::Tensor& previous) {
    at::Tensor logits = decode_step(cache, previous[0], &evictor).unsqueeze(0);
    evictor.after_step(cache);
    return logits;
  })[0];
  out.decode_path = "reference";
  out.max_entries_per_head = evictor.max_entries();
  out.peak_kv_bytes = evictor.peak_bytes();
  out.eviction_passes = evictor.passes();
  return out;
}

void Engine::extend(PrefillResult& prefilled, const std::vector<std::int64_t>& ids) const {
  KV_CHECK(!ids.empty(), "internal error: extend() without tokens");
  const ModelConfig& c = model_.config();
  for (std::int64_t id : ids)
    KV_CHECK(id >= 0 && id < c.vocab_size, "token id ", id, " is outside the vocabulary [0, ", c.vocab_size, ")");
  const at::Tensor tokens = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).to(model_.device());
  std::vector<at::Tensor> logits;
  for (std::size_t i = 0; i < prefilled.caches.size(); ++i) {
    at::Tensor last = prefilled.last_logits;
    if (!prefilled.policy_failed(i)) {
      KvCache& cache = prefilled.caches[i];
      for (auto& layer : cache.layers) layer.reserve_tail(layer.tail_length() + tokens.numel());
      for (std::int64_t t = 0; t < tokens.numel(); ++t) last = decode_step(cache, tokens[t]);
    }
    logits.push_back(last);
  }
  prefilled.cache_logits = at::stack(logits);
}

std::vector<GenerationResult> Engine::decode_batch(const std::vector<const KvCache*>& caches,
                                                   const at::Tensor& last_logits, const GenerateOptions& options) const {
  check_generate_options(options);
  KV_CHECK(!caches.empty(), "internal error: decode_batch without caches");
  const ModelConfig& c = model_.config();
  const at::Device dev = model_.device();
  const std::int64_t B = static_cast<std::int64_t>(caches.size()), max_new = options.max_new_tokens;
  const std::int64_t first_position = caches[0]->next_position;
  check_generation_size(c, model_.dtype(), dev, first_position, max_new, B, "max new tokens");
  for (const KvCache* cache : caches)
    KV_CHECK(cache->next_position == first_position && cache->layers.size() == caches[0]->layers.size(),
             "internal error: batched caches must continue the same prompt");
  if (max_new == 0) return greedy_decode(B, last_logits, options, dev, [](const at::Tensor& t) { return t; });
  const std::string path = resolve_decode_path(options.decode_path);
  if (path != "reference") return ragged_decode(caches, last_logits, options, path == "graph", nullptr);

  std::vector<BatchLayerCache> layers;
  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    std::vector<const LayerCache*> members;
    for (const KvCache* cache : caches) members.push_back(&cache->layers[l]);
    layers.emplace_back(members, max_new);
  }
  const at::Tensor positions =
      at::arange(first_position, first_position + max_new, at::TensorOptions().dtype(at::kLong).device(dev));
  const RopeTables all_tables = model_.rope_tables(positions, caches[0]->prompt_len);
  std::int64_t step = 0;
  // One forward pass for every sequence: the same position, each its own cache.
  std::vector<GenerationResult> results = greedy_decode(B, last_logits, options, dev, [&](const at::Tensor& previous) {
    const RopeTables tables = all_tables.row(step, B);
    const std::int64_t position = first_position + step++;
    at::Tensor x = model_.embed(previous);  // [B, D]
    for (std::int64_t l = 0; l < c.num_layers; ++l) {
      const QkvProjection p = model_.project_qkv(l, x, tables);
      layers[l].append(p.k, p.v, position);
      x = model_.finish_layer(l, x, layers[l].attend(p.q, model_.attention(l), position));
    }
    return model_.logits(x);
  });
  for (auto& r : results) r.decode_path = "reference";
  return results;
}

GenerationResult Engine::generate(const std::vector<std::int64_t>& prompt_ids, EvictionPolicy& policy,
                                  const PrefillOptions& prefill_options, const GenerateOptions& options) const {
  PrefillResult prefilled = prefill(prompt_ids, {&policy}, prefill_options);
  return decode(prefilled.caches[0], prefilled.last_logits, options);
}

std::vector<std::vector<std::size_t>> decode_groups(const Engine& engine, const PrefillResult& prefilled,
                                                    const std::vector<std::size_t>& usable, bool batch,
                                                    const GenerateOptions& options) {
  std::vector<std::vector<std::size_t>> groups;
  if (!batch || usable.size() < 2) {
    for (std::size_t i : usable) groups.push_back({i});
    return groups;
  }
  if (engine.decode_path(options) != "reference") {
    // One head count per batch (per-KV-head and per-query-head caches decode apart), kMaxRaggedBatch at most.
    std::map<std::int64_t, std::vector<std::size_t>> by_heads;
    for (std::size_t i : usable) by_heads[cache_heads(prefilled.caches[i])].push_back(i);
    for (const auto& entry : by_heads) {
      const std::vector<std::size_t>& members = entry.second;
      for (std::size_t k = 0; k < members.size(); k += kMaxRaggedBatch)
        groups.emplace_back(members.begin() + static_cast<std::ptrdiff_t>(k),
                            members.begin() + static_cast<std::ptrdiff_t>(std::min(members.size(), k + kMaxRaggedBatch)));
    }
    return groups;
  }
  std::vector<const KvCache*> caches;
  for (std::size_t i : usable) caches.push_back(&prefilled.caches[i]);
  for (const auto& group : plan_decode_batches(caches)) {
    groups.emplace_back();
    for (std::size_t j : group) groups.back().push_back(usable[j]);
  }
  return groups;
}

std::vector<GenerationResult> decode_group(const Engine& engine, PrefillResult& prefilled,
                                           const std::vector<std::size_t>& group, const GenerateOptions& options) {
  fault_point("decode");
  // After extend() every cache has its own next-token logits; otherwise they share the prefill's.
  const bool own = prefilled.cache_logits.defined();
  if (group.size() == 1) {
    const std::size_t i = group[0];
    return {engine.decode(prefilled.caches[i], own ? prefilled.cache_logits[static_cast<std::int64_t>(i)] : prefilled.last_logits, options)};
  }
  std::vector<const KvCache*> caches;
  std::vector<std::int64_t> rows;
  for (std::size_t i : group) {
    caches.push_back(&prefilled.caches[i]);
    rows.push_back(static_cast<std::int64_t>(i));
  }
  const at::Tensor logits =
      own ? prefilled.cache_logits.index_select(0, at::tensor(rows).to(prefilled.cache_logits.device())) : prefilled.last_logits;
  return engine.decode_batch(caches, logits, options);
}

}  // namespace kvbench
