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
#include "policies/coverage.h"

namespace kvbench::cli {
namespace {

struct GenerateState {
  ModelOptions model;
  PolicyOptions policy;
  std::string prompt, prompt_ids, stop_ids, logits_out, tokenizer, chat = "none", decode_path = "auto";
  std::int64_t max_new = 64, min_new = 0, chunk = 0;
  bool ignore_eos = false, json = false, no_kept = false;
  std::int64_t coverage_window = 32;
};

void write_logits(const std::string& path, const at::Tensor& prompt_logits, const std::vector<at::Tensor>& steps) {
  const at::Tensor prompt = prompt_logits.to(at::kCPU).contiguous();
  const at::Tensor step = steps.empty() ? at::empty({0, prompt.size(1)}) : at::stack(steps).contiguous();
  write_safetensors(path, {{"prompt_logits", DType::F32, prompt.sizes().vec(), prompt.data_ptr(), prompt.nbytes()},
                           {"step_logits", DType::F32, step.sizes().vec(), step.data_ptr(), step.nbytes()}});
}

// The tokenizer: --tokenizer, else the checkpoint's own when it has one (nullptr when neither).
std::unique_ptr<Tokenizer> find_tokenizer(const GenerateState& st) {
  if (!st.tokenizer.empty()) return load_tokenizer(st.tokenizer);
  for (const char* name : {"tokenizer.json", "tokenizer.model"})
    if (paths::is_regular_file(paths::join(st.model.model_dir, name))) return load_tokenizer(st.model.model_dir);
  return nullptr;
}

// --chat: a format name, "auto" (from tokenizer_config.json / the architecture) or "none".
const ChatFormat* resolve_chat(const GenerateState& st, const ModelConfig& config) {
  if (st.chat == "none") return nullptr;
  if (st.chat != "auto") return &chat_format(st.chat);
  const std::string dir = st.tokenizer.empty() ? st.model.model_dir
                          : paths::is_directory(st.tokenizer) ? st.tokenizer : paths::parent(st.tokenizer);
  const auto name = detect_chat_format(read_tokenizer_config(dir), config.architecture);
  KV_CHECK(name.has_value(), "--chat auto: cannot recognise the chat format of ", dir, " (", config.architecture,
           "); name one of: ", [] {
             std::string all;
             for (const auto& n : chat_format_names()) all += (all.empty() ? "" : ", ") + n;
             return all;
           }());
  return &chat_format(*name);
}

void run_generate(const GenerateState& st) {
  KV_CHECK(st.prompt.empty() != st.prompt_ids.empty(), "give exactly one of --prompt and --prompt-ids");
  const at::Device device = st.model.resolve_device();
  const ModelConfig config = load_model_config(st.model.model_dir);
  const auto tokenizer = find_tokenizer(st);
  const ChatFormat* chat = resolve_chat(st, config);
  std::vector<std::int64_t> ids;
  if (!st.prompt.empty()) {
    KV_CHECK(tokenizer != nullptr, "--prompt needs a tokenizer: ", st.model.model_dir,
             " has no tokenizer.json or tokenizer.model; pass --tokenizer PATH or token ids with --prompt-ids");
    for (TokenId id : encode_prompt(*tokenizer, st.prompt, chat, /*add_special=*/true)) ids.push_back(id);
  } else {
    KV_CHECK(chat == nullptr, "--chat applies to --prompt text, not to --prompt-ids");
    ids = parse_id_list(st.prompt_ids, "--prompt-ids");
  }

  const at::ScalarType dtype = st.model.resolve_dtype(config, device);
  // Bad flags and ids fail here, before the (possibly long) weight loading.
  std::unique_ptr<EvictionPolicy> policy = make_policy(st.policy.spec());
  for (std::int64_t id : ids)
    KV_CHECK(id >= 0 && id < config.vocab_size, "prompt token id ", id, " is outside the vocabulary [0, ",
             config.vocab_size, ")");
  const auto model = Transformer::load(st.model.model_dir, device, dtype);
  const Engine engine(*model);

  GenerateOptions gen;
  gen.max_new_tokens = st.max_new;
  gen.min_new_tokens = st.min_new;
  if (!st.stop_ids.empty()) {
    gen.stop_ids = parse_id_list(st.stop_ids, "--stop-ids");
  } else if (!st.ignore_eos) {
    // The config's EOS ids, the tokenizer's EOS and the chat format's end-of-turn token.
    gen.stop_ids = config.eos_token_ids;
    if (tokenizer)
      for (TokenId id : chat_stop_ids(*tokenizer, chat))
        if (std::find(gen.stop_ids.begin(), gen.stop_ids.end(), id) == gen.stop_ids.end()) gen.stop_ids.push_back(id);
  }
  gen.keep_step_logits = !st.logits_out.empty();
  gen.decode_path = st.decode_path;
  PrefillOptions pre;
  pre.chunk_size = st.chunk;
  pre.all_logits = !st.logits_out.empty();

  PrefillResult prefilled = engine.prefill(ids, {policy.get()}, pre);
  KvCache& cache = prefilled.caches[0];
  std::int64_t kept_min = INT64_MAX, kept_max = 0;
  for (const auto& layer : cache.layers) {
    for (std::int64_t h = 0; h < layer.num_heads(); ++h) {
      const std::int64_t n = layer.prompt_offsets()[h + 1] - layer.prompt_offsets()[h];
      kept_min = std::min(kept_min, n);
      kept_max = std::max(kept_max, n);
    }
  }
  const std::int64_t prompt_kv_bytes = cache.bytes_used();
  // What the policy kept (before decoding appends anything) and its coverage statistics.
  nlohmann::json kept = nlohmann::json::array();
  std::vector<LayerKeptEntries> entries;
  for (const auto& layer : cache.layers) {
    if (!st.no_kept) kept.push_back(layer.kept_positions());
    entries.push_back({layer.prompt_positions(), layer.prompt_heads()});
  }
  const at::Tensor id_tensor = at::tensor(ids, at::TensorOptions().dtype(at::kLong));
  const CoverageStats coverage =
      coverage_statistics(entries, static_cast<std::int64_t>(ids.size()), st.coverage_window, id_tensor);
  const GenerationResult out = engine.decode(cache, prefilled.last_logits, gen);
  if (!st.logits_out.empty()) write_logits(st.logits_out, prefilled.logits, out.step_logits);

  const double tps = out.decode_seconds > 0 ? static_cast<double>(out.decode_steps) / out.decode_seconds : 0.0;
  nlohmann::json result = {
      {"prompt_ids", ids},
      {"output_ids", out.output_ids},
      {"stop_reason", out.stop_reason},
      {"policy", policy->describe()},
      {"device", device.str()},
      {"dtype", short_dtype_name(dtype)},
      {"prompt_tokens", ids.size()},
      {"kept_per_head", {{"min", kept_min}, {"max", kept_max}}},
      {"budget", policy->resolved_budget()},
      {"prompt_kv_bytes", prompt_kv_bytes},
      {"compression_seconds", prefilled.policy_seconds[0]},
      {"coverage", coverage.to_json()},
      {"prefill_seconds", prefilled.seconds},
      {"decode_seconds", out.decode_seconds},
      {"decode_tokens_per_second", tps},
      {"decode_path", out.decode_path},
  };
  if (!st.no_kept) result["kept"] = kept;
  std::string text;
  if (tokenizer) {
    text = tokenizer->decode(std::vector<TokenId>(out.output_ids.begin(), out.output_ids.end()), /*skip_special=*/true);
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
  if (tokenizer) std::cout << "text          " << text << std::endl;
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
  cmd->add_option("--decode-path", st->decode_path, "auto (graph on CUDA where supported), graph, ragged or reference")
      ->capture_default_str();
  cmd->add_option("--coverage-window", st->coverage_window, "window w excluded from the coverage statistics")
      ->capture_default_str();
  return {cmd, [st] { run_generate(*st); }};
}

}  // namespace kvbench::cli
