// kvbench generate: one prompt through prefill, one eviction policy, and greedy decoding.
#include <algorithm>
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/cli/options.h"
#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/engine/engine.h"
#include "harness/model/safetensors.h"
#include "harness/model/tensor_util.h"
#include "harness/tokenizer/chat_template.h"
#include "harness/tokenizer/tokenizer.h"
#include "harness/runner/session.h"
#include "harness/stats/coverage.h"

namespace kvbench::cli {
namespace {

struct GenerateState {
  ModelOptions model;
  PolicyOptions policy;
  std::string prompt, prompt_ids, stop_ids, logits_out, tokenizer, chat = "none", decode_path = "auto", sliding_layers = "auto";
  std::int64_t max_new = 64, min_new = 0, chunk = 0;
  bool ignore_eos = false, json = false, no_kept = false;
  std::int64_t coverage_window = kDefaultCoverageWindow;
};

void write_logits(const std::string& path, const at::Tensor& prompt_logits, const std::vector<at::Tensor>& steps) {
  const at::Tensor prompt = prompt_logits.to(at::kCPU).contiguous();
  const at::Tensor step = steps.empty() ? at::empty({0, prompt.size(1)}) : at::stack(steps).contiguous();
  write_safetensors(path, {{"prompt_logits", DType::F32, prompt.sizes().vec(), prompt.data_ptr(), prompt.nbytes()},
                           {"step_logits", DType::F32, step.sizes().vec(), step.data_ptr(), step.nbytes()}});
}

// What the policy kept (before decoding appends anything): the smallest and largest head, and with `positions`
// every layer's and cache head's positions (per KV head, or per query head for granularity query_head; large for
// long prompts).
nlohmann::json kept_positions(const KvCache& cache, bool positions, std::int64_t* kept_min, std::int64_t* kept_max) {
  nlohmann::json kept = nlohmann::json::array();
  *kept_min = INT64_MAX;
  *kept_max = 0;
  for (const auto& layer : cache.layers) {
    if (positions) kept.push_back(layer.kept_positions());
    for (std::int64_t h = 0; h < layer.num_heads(); ++h) {
      const std::int64_t n = layer.prompt_offsets()[h + 1] - layer.prompt_offsets()[h];
      *kept_min = std::min(*kept_min, n);
      *kept_max = std::max(*kept_max, n);
    }
  }
  return kept;
}

void run_generate(const GenerateState& st) {
  KV_CHECK(st.prompt.empty() != st.prompt_ids.empty(), "give exactly one of --prompt and --prompt-ids");
  Session session(st.model.session(st.tokenizer, st.chat));
  const ModelConfig& config = session.config();
  std::vector<std::int64_t> ids;
  if (!st.prompt.empty()) {
    KV_CHECK(session.tokenizer() != nullptr, "--prompt needs a tokenizer: ", st.model.model_dir,
             " has no tokenizer.json or tokenizer.model; pass --tokenizer PATH or token ids with --prompt-ids");
    for (TokenId id : encode_prompt(*session.tokenizer(), st.prompt, session.chat(), /*add_special=*/true))
      ids.push_back(id);
  } else {
    KV_CHECK(session.chat() == nullptr, "--chat applies to --prompt text, not to --prompt-ids");
    ids = parse_id_list(st.prompt_ids, "--prompt-ids");
  }
  // Bad flags and ids fail here, before the (possibly long) weight loading.
  std::unique_ptr<EvictionPolicy> policy = make_policy(st.policy.spec());
  for (std::int64_t id : ids)
    KV_CHECK(id >= 0 && id < config.vocab_size, "prompt token id ", id, " is outside the vocabulary [0, ",
             config.vocab_size, ")");
  const Engine& engine = session.engine();

  GenerateOptions gen;
  gen.max_new_tokens = st.max_new;
  gen.min_new_tokens = st.min_new;
  if (!st.stop_ids.empty()) gen.stop_ids = parse_id_list(st.stop_ids, "--stop-ids");
  else if (!st.ignore_eos) gen.stop_ids = session.stop_ids(session.chat() != nullptr);
  gen.keep_step_logits = !st.logits_out.empty();
  gen.decode_path = st.decode_path;
  PrefillOptions pre;
  pre.chunk_size = st.chunk;
  pre.all_logits = !st.logits_out.empty();
  pre.sliding_layers = parse_sliding_layers(st.sliding_layers, "--sliding-layers");

  PrefillResult prefilled = engine.prefill(ids, {policy.get()}, pre);
  KvCache& cache = prefilled.caches[0];
  std::int64_t kept_min = 0, kept_max = 0;
  const nlohmann::json kept = kept_positions(cache, !st.no_kept, &kept_min, &kept_max);
  const std::int64_t prompt_kv_bytes = cache.bytes_used();
  const at::Tensor id_tensor = at::tensor(ids, at::TensorOptions().dtype(at::kLong));
  const CoverageStats coverage = coverage_of(cache, st.coverage_window, id_tensor);
  const GenerationResult out = engine.decode(cache, prefilled.last_logits, gen);
  if (!st.logits_out.empty()) write_logits(st.logits_out, prefilled.logits, out.step_logits);

  const double tps = out.decode_seconds > 0 ? static_cast<double>(out.decode_steps) / out.decode_seconds : 0.0;
  nlohmann::json result = session.describe();
  result.update({
      {"prompt_ids", ids},
      {"output_ids", out.output_ids},
      {"stop_reason", out.stop_reason},
      {"policy", policy->describe()},
      {"prompt_tokens", ids.size()},
      {"kept_per_head", {{"min", kept_min}, {"max", kept_max}}},
      {"granularity", policy->granularity()},
      {"budget", policy->resolved_budget()},
      {"prompt_kv_bytes", prompt_kv_bytes},
      {"compression_seconds", prefilled.policy_seconds[0]},
      {"coverage", coverage.to_json()},
      {"prefill_seconds", prefilled.seconds},
      {"decode_seconds", out.decode_seconds},
      {"decode_tokens_per_second", tps},
      {"decode_path", out.decode_path},
  });
  if (!st.no_kept) result["kept"] = kept;
  std::string text;
  if (session.tokenizer() != nullptr) {
    text = session.tokenizer()->decode(std::vector<TokenId>(out.output_ids.begin(), out.output_ids.end()),
                                       /*skip_special=*/true);
    result["text"] = text;
  }
  if (st.json) {
    print_json(result);
    return;
  }
  std::cout << "policy        " << policy->describe() << "\n"
            << "prompt        " << ids.size() << " tokens; kept per head " << kept_min << ".." << kept_max << " ("
            << prompt_kv_bytes << " KV bytes)\n"
            << "prefill       " << prefilled.seconds * 1e3 << " ms (compression " << prefilled.policy_seconds[0] * 1e3
            << " ms)\n"
            << "coverage      layer " << coverage.mean_layer_coverage() << ", model " << coverage.model_coverage
            << ", head overlap " << coverage.mean_head_overlap() << "\n"
            << "decode        " << out.output_ids.size() << " tokens, " << tps << " tok/s (" << out.stop_reason
            << ")\noutput ids    ";
  for (std::size_t i = 0; i < out.output_ids.size(); ++i) std::cout << (i ? "," : "") << out.output_ids[i];
  std::cout << std::endl;
  if (session.tokenizer() != nullptr) std::cout << "text          " << text << std::endl;
}

}  // namespace

Command add_generate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "greedy generation for one prompt with an eviction policy");
  auto st = std::make_shared<GenerateState>();
  st->model.add_to(cmd);
  st->policy.add_to(cmd);
  cmd->add_option("--prompt", st->prompt, "prompt text (encoded with the checkpoint's tokenizer or --tokenizer)");
  cmd->add_option("--tokenizer", st->tokenizer, "tokenizer file or directory (default: the checkpoint's own)");
  cmd->add_option("--chat", st->chat, "wrap --prompt as one user turn: a format name, auto (from tokenizer_config.json "
                  "or the architecture) or none")->capture_default_str();
  cmd->add_option("--prompt-ids", st->prompt_ids, "prompt token ids, e.g. 1,2,3");
  cmd->add_option("--max-new", st->max_new, "maximum new tokens")->capture_default_str();
  cmd->add_option("--min-new", st->min_new, "stop tokens are suppressed until this many new tokens")
      ->capture_default_str();
  cmd->add_option("--stop-ids", st->stop_ids, "stop token ids (default: the config's eos_token_id)");
  cmd->add_flag("--ignore-eos", st->ignore_eos, "no stop tokens: always generate --max-new tokens");
  cmd->add_option("--prefill-chunk", st->chunk, "prompt rows per prefill chunk (0: 512 on CPU, 8192 on CUDA)")
      ->capture_default_str();
  cmd->add_option("--logits-out", st->logits_out,
                  "write float32 prompt logits [T, V] and the logits of each chosen token to this safetensors file");
  cmd->add_flag("--json", st->json, "print one JSON object (with \"kept\": each layer's and KV head's kept prompt "
                "positions, and \"coverage\")");
  cmd->add_flag("--no-kept", st->no_kept, "leave \"kept\" out of the JSON (it is large for long prompts)");
  cmd->add_option("--sliding-layers", st->sliding_layers, "what the budget means on sliding-window layers: auto, window "
                  "(they keep their window; the budget applies to the full-attention layers) or compress")
      ->capture_default_str();
  cmd->add_option("--decode-path", st->decode_path, "auto (graph on CUDA where supported), graph, ragged or reference")
      ->capture_default_str();
  cmd->add_option("--coverage-window", st->coverage_window, "window w excluded from the coverage statistics")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 24))
      ->capture_default_str();
  return {cmd, [st] { run_generate(*st); }};
}

}  // namespace kvbench::cli
