// kvbench bench: prefill and decode speed, compression cost and memory on random prompts (harness/runner/bench.h).
#include <iomanip>
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/cli/options.h"
#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/engine/engine.h"
#include "harness/device/ops.h"
#include "harness/runner/bench.h"
#include "harness/runner/session.h"

namespace kvbench::cli {
namespace {

struct BenchState {
  ModelOptions model;
  std::string workload = "lengths", prompt_tokens = "8192", batch_decode = "auto", decode_path = "auto";
  std::vector<std::string> policies = {"full"}, params;
  std::vector<std::int64_t> budgets;
  BenchOptions bench;
  double peak_tflops = 0;
  bool json = false;
  bool stop_at_eos = false;
};

std::vector<BenchVariant> variants_of(const BenchState& st) {
  std::vector<BenchVariant> out;
  for (const std::string& name : st.policies) {
    PolicyOptions p;
    p.name = name;
    p.params = st.params;
    if (name == "full") {
      out.push_back({"full", p.spec()});
      continue;
    }
    KV_CHECK(!st.budgets.empty(), "--policy ", name, " needs --budget (tokens per KV head per layer)");
    for (std::int64_t b : st.budgets) {
      KV_CHECK(b > 0, "--budget must be positive, got ", b);
      p.budget = b;
      out.push_back({name + "-" + std::to_string(b), p.spec()});
    }
  }
  return out;
}

std::string gib(const nlohmann::json& bytes) {
  if (!bytes.is_number()) return "-";
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << bytes.get<double>() / (1024.0 * 1024.0 * 1024.0);
  return s.str();
}

void print_lengths(const nlohmann::json& r) {
  std::cout << std::fixed;
  for (const auto& row : r["lengths"]) {
    std::cout << "prompt " << row["prompt_tokens"].get<std::int64_t>() << " tokens: prefill " << std::setprecision(3)
              << row["prefill_seconds"]["median"].get<double>() << " s median (p90 "
              << row["prefill_seconds"]["p90"].get<double>() << "), " << std::setprecision(0)
              << row["prefill_tokens_per_second"].get<double>() << " tok/s";
    if (row["mfu"].is_number()) std::cout << ", MFU " << std::setprecision(2) << row["mfu"].get<double>();
    std::cout << "; peak device memory " << gib(row["peak_device_memory_bytes"]) << " GiB\n";
    std::cout << "  " << std::left << std::setw(24) << "variant" << std::right << std::setw(12) << "KV MiB"
              << std::setw(15) << "compress ms" << std::setw(26) << "decode ms/step med / p90" << std::setw(8)
              << "batch" << "  path\n";
    for (const auto& v : row["variants"]) {
      std::cout << "  " << std::left << std::setw(24) << v["name"].get<std::string>() << std::right << std::setw(12)
                << std::setprecision(1) << v["kv_bytes"].get<double>() / (1024.0 * 1024.0) << std::setw(15)
                << std::setprecision(2) << v["compression_seconds"]["median"].get<double>() * 1e3 << std::setw(17)
                << std::setprecision(3) << v["decode_ms_per_step"]["median"].get<double>() << " / " << std::setw(6)
                << v["decode_ms_per_step"]["p90"].get<double>() << std::setw(8) << v["decode_batch_size"].get<std::int64_t>() << "  "
                << v["decode_path"].get<std::string>() << "\n";
    }
  }
}

void print_longbench16(const nlohmann::json& r) {
  std::cout << std::fixed << "LongBench-16 workload estimate (" << r["estimate"].get<std::string>() << ")\n"
            << "  " << std::left << std::setw(22) << "subset" << std::right << std::setw(9) << "tokens" << std::setw(6)
            << "new" << std::setw(6) << "n" << std::setw(14) << "s/prompt" << std::setw(14) << "estimated s\n";
  for (const auto& s : r["subsets"])
    std::cout << "  " << std::left << std::setw(22) << s["subset"].get<std::string>() << std::right << std::setw(9)
              << s["prompt_tokens"].get<std::int64_t>() << std::setw(6) << s["new_tokens"].get<std::int64_t>() << std::setw(6)
              << s["samples"].get<std::int64_t>() << std::setw(14)
              << std::setprecision(3) << s["seconds_per_prompt"].get<double>() << std::setw(13) << std::setprecision(1)
              << s["estimated_seconds"].get<double>() << "\n";
  std::cout << "total: " << r["prompts"].get<double>() << " prompts, " << std::setprecision(1) << r["estimated_seconds"].get<double>()
            << " s (" << std::setprecision(2) << r["estimated_hours"].get<double>() << " h) for "
            << r["variants"].size() << " variant(s)\n";
}

void run_bench(BenchState& st) {
  KV_CHECK(st.workload == "lengths" || st.workload == "longbench16", "--workload must be lengths or longbench16, got '",
           st.workload, "'");
  KV_CHECK(st.batch_decode == "auto" || st.batch_decode == "on" || st.batch_decode == "off",
           "--batch-decode must be auto, on or off, got '", st.batch_decode, "'");
  const auto& paths_allowed = decode_path_names();
  KV_CHECK(std::find(paths_allowed.begin(), paths_allowed.end(), st.decode_path) != paths_allowed.end(),
           "--decode-path must be auto, graph, ragged or reference, got '", st.decode_path, "'");
  BenchOptions& o = st.bench;
  o.prompt_tokens = parse_id_list(st.prompt_tokens, "--prompt-tokens");
  for (std::int64_t t : o.prompt_tokens) KV_CHECK(t >= 1, "--prompt-tokens must be positive, got ", t);
  o.variants = variants_of(st);
  for (const auto& v : o.variants) make_policy(v.spec);  // bad names, params and budgets fail before the weights load
  o.decode_path = st.decode_path;
  KV_CHECK(o.samples >= 1 && o.new_tokens >= 1, "--samples and --new-tokens must be >= 1");
  KV_CHECK(o.samples_in_flight >= 1 && o.samples_in_flight <= 4096, "--samples-in-flight must be in [1, 4096], got ",
           o.samples_in_flight);
  KV_CHECK(o.in_flight_memory == 0 || (o.in_flight_memory >= (std::int64_t{1} << 20) && o.in_flight_memory <= (std::int64_t{1} << 50)),
           "--in-flight-memory must be 0 (auto) or a number of bytes in [2^20, 2^50], got ", o.in_flight_memory);
  KV_CHECK(o.warmup >= -1, "--warmup must be -1 (the measured length), 0 (none) or a token count");
  KV_CHECK(o.prompts_out.empty() || !paths::exists(o.prompts_out), "--prompts-out ", o.prompts_out,
           " exists already; give a new file");
  Session session(st.model.session());
  if (st.stop_at_eos) {
    o.stop_ids = session.stop_ids(/*chat_applied=*/false);
    KV_CHECK(!o.stop_ids.empty(), "--stop-at-eos: the model names no end-of-sequence token");
  }
  o.batch_decode = st.batch_decode == "on" || (st.batch_decode == "auto" && session.device().is_cuda());
  const Transformer& model = session.model();
  const Engine& engine = session.engine();
  const std::string name = ops::device_name(session.device());
  o.peak_tflops = st.peak_tflops > 0 ? std::optional<double>(st.peak_tflops) : known_peak_tflops(name);
  nlohmann::json report = st.workload == "lengths" ? bench_lengths(model, engine, o) : bench_longbench16(model, engine, o);
  report["device_name"] = name;
  if (st.json) {
    print_json(report);
    return;
  }
  std::cout << "device " << report["device"].get<std::string>() << " (" << name << "), "
            << report["dtype"].get<std::string>() << ", " << std::fixed << std::setprecision(2)
            << report["parameters"].get<double>() / 1e9 << "B parameters, weights " << gib(report["weight_bytes"])
            << " GiB\n";
  if (st.workload == "lengths") print_lengths(report);
  else print_longbench16(report);
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "prefill and decode speed, compression cost and memory on random prompts");
  auto st = std::make_shared<BenchState>();
  st->model.add_to(cmd);
  BenchOptions& o = st->bench;
  cmd->add_option("--workload", st->workload, "lengths (the --prompt-tokens lengths) or longbench16 (the 16 English "
                  "LongBench subsets' shapes, estimated from a sample)")->capture_default_str();
  cmd->add_option("--prompt-tokens", st->prompt_tokens, "prompt lengths, e.g. 8192,32768")->capture_default_str();
  cmd->add_option("--policy", st->policies, "policies (repeatable); each non-full one runs at every --budget")
      ->capture_default_str();
  cmd->add_option("--budget", st->budgets, "budgets (repeatable): tokens per KV head per layer");
  cmd->add_option("--policy-param", st->params, "policy parameter key=value (repeatable), for every policy");
  cmd->add_option("--new-tokens", o.new_tokens, "new tokens per prompt (lengths workload; no stop token)")
      ->capture_default_str();
  cmd->add_option("--samples", o.samples, "random prompts per length")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "untimed warm-up prompt tokens: -1 the measured length, 0 none")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "seed of the random prompts")->capture_default_str();
  cmd->add_option("--batch-decode", st->batch_decode, "decode a prompt's variants together: auto (on for CUDA), on, off")
      ->capture_default_str();
  cmd->add_option("--decode-path", st->decode_path, "auto, graph, ragged or reference (see docs/performance.md)")
      ->capture_default_str();
  cmd->add_option("--prefill-chunk", o.prefill_chunk, "prompt rows per prefill chunk (0: the engine's default)")
      ->capture_default_str();
  cmd->add_option("--peak-tflops", st->peak_tflops, "peak TFLOP/s for MFU (default: the datasheet's for H100/H200/A100)");
  cmd->add_option("--per-subset", o.per_subset, "longbench16: prompts timed per subset")->capture_default_str();
  cmd->add_option("--max-length", o.max_length, "longbench16: prompt length cap (LongBench's truncation)")
      ->capture_default_str();
  cmd->add_option("--tokens-per-word", o.tokens_per_word, "longbench16: tokens per published word")
      ->capture_default_str();
  cmd->add_option("--samples-in-flight", o.samples_in_flight, "longbench16: samples decoding together (1: one at a "
                  "time; needs the ragged or graph decode path)")->capture_default_str();
  cmd->add_option("--in-flight-memory", o.in_flight_memory, "longbench16: bytes the caches in flight and their decode "
                  "tails may hold (0: 80% of the device's free memory)")->capture_default_str();
  cmd->add_flag("--stop-at-eos", st->stop_at_eos, "end each prompt at the model's end-of-sequence token (default: every "
                "prompt decodes its max new tokens)");
  cmd->add_option("--prompts-out", o.prompts_out, "write each timed prompt's ids (JSONL) for side-by-side runs");
  cmd->add_flag("--json", st->json, "print the report as one JSON object");
  return {cmd, [st] { run_bench(*st); }};
}

}  // namespace kvbench::cli
