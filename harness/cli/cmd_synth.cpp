// kvbench synth: writes the synthetic RULER-style suite (datasets/synth.h) as LongBench JSONL files, and
// optionally the token ids of each prompt and its answer for training (--train-out). Format: docs/synthetic.md.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>

#include "datasets/prompt.h"
#include "datasets/subset.h"
#include "datasets/synth.h"
#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/paths.h"
#include "harness/tokenizer/tokenizer.h"

namespace kvbench::cli {
namespace {

struct SynthState {
  std::string task, tokenizer, out, haystack, train_out;
  std::int64_t tokens = 0, max_length = 0;
  std::size_t count = 100;
  std::uint64_t seed = 0;
};

// A file written under a temporary name and renamed into place by commit() (AtomicWriter), so a failed or
// interrupted run never leaves a partial data set where a run would read it. Buffered: rows are small.
class PendingFile {
 public:
  explicit PendingFile(const std::string& path) : out_(path) {}
  void write(const void* data, std::size_t size) {
    buffer_.append(static_cast<const char*>(data), size);
    if (buffer_.size() >= (1u << 20)) flush();
  }
  void write(const std::string& text) { write(text.data(), text.size()); }
  void commit() {
    flush();
    out_.commit();
  }

 private:
  void flush() {
    out_.write(buffer_);
    buffer_.clear();
  }
  AtomicWriter out_;
  std::string buffer_;
};

// Progress on stderr: redrawn in place on a terminal, a line every 10 s otherwise; silent for small jobs.
class SynthProgress {
 public:
  explicit SynthProgress(std::size_t total) : total_(total), tty_(::isatty(STDERR_FILENO) != 0) {}
  void advance(const std::string& task) {
    ++done_;
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (done_ == total_ ? !drawn_ : since < (tty_ ? 0.2 : 10.0)) return;
    if (std::chrono::duration<double>(now - start_).count() < 1.0 && done_ != total_) return;
    last_ = now;
    drawn_ = true;
    std::fprintf(stderr, tty_ ? "\rsynth: %zu/%zu samples (%s)   " : "synth: %zu/%zu samples (%s)\n", done_, total_,
                 task.c_str());
    if (tty_ && done_ == total_) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  std::size_t total_, done_ = 0;
  bool tty_, drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

void put_u32(PendingFile& out, std::uint32_t v) {
  const char bytes[4] = {static_cast<char>(v & 0xFF), static_cast<char>((v >> 8) & 0xFF),
                         static_cast<char>((v >> 16) & 0xFF), static_cast<char>((v >> 24) & 0xFF)};
  out.write(bytes, 4);
}

// The ids the model should produce after the prompt: " " + answer as it tokenizes AFTER the prompt text, then
// EOS. Encoding " " + answer alone is wrong for SentencePiece models: its dummy prefix turns the leading space
// into "▁▁" (Llama-2 id 259), a token the model never sees after a prompt. Returns false when the prompt's
// ids are not a prefix of the joint encoding (the answer merged with the prompt's last token); the caller
// then falls back to encoding " " + answer alone.
bool answer_ids(const Tokenizer& tok, const BuiltPrompt& prompt, const std::string& answer, std::vector<TokenId>& out) {
  const std::vector<TokenId> joint = tok.encode(prompt.text + " " + answer, /*add_special=*/true);
  const bool prefix = joint.size() > prompt.ids.size() && std::equal(prompt.ids.begin(), prompt.ids.end(), joint.begin());
  out = prefix ? std::vector<TokenId>(joint.begin() + static_cast<std::ptrdiff_t>(prompt.ids.size()), joint.end())
               : tok.encode(" " + answer, /*add_special=*/false);
  out.push_back(*tok.eos_id());
  return prefix;
}

void run_synth(const SynthState& st) {
  const bool all = st.task == "all";
  if (!all) synth::check_task(st.task);
  KV_CHECK(st.tokens > 0, "--tokens must be positive, got ", st.tokens);
  KV_CHECK(st.count >= 1, "--count must be at least 1");
  KV_CHECK(st.max_length >= 0, "--max-length must be positive (or 0: no truncation)");
  const std::vector<std::string> tasks = all ? synth::task_names() : std::vector<std::string>{st.task};
  if (all) {
    KV_CHECK(!paths::exists(st.out) || paths::is_directory(st.out), "--task all writes one file per task into the "
             "folder --out, but '", st.out, "' is a file");
    paths::create_directories(st.out);
  } else {
    KV_CHECK(!paths::is_directory(st.out), "--out '", st.out, "' is a folder; give a .jsonl file (or --task all)");
    if (!paths::parent(st.out).empty()) paths::create_directories(paths::parent(st.out));
  }
  const synth::Haystack haystack = st.haystack.empty() ? synth::Haystack() : synth::Haystack::from_directory(st.haystack);
  const auto tok = load_tokenizer(st.tokenizer);
  std::unique_ptr<PendingFile> train;
  if (!st.train_out.empty()) {
    KV_CHECK(tok->eos_id().has_value(), "--train-out ends each answer with EOS, but the tokenizer ", st.tokenizer,
             " has none");
    if (!paths::parent(st.train_out).empty()) paths::create_directories(paths::parent(st.train_out));
    train = std::make_unique<PendingFile>(st.train_out);
  }
  PromptOptions po;  // as the runner builds prompts: template, middle truncation, no chat for these tasks
  po.max_length = st.max_length > 0 ? st.max_length : std::numeric_limits<std::int64_t>::max();

  SynthProgress progress(tasks.size() * st.count);
  std::vector<std::unique_ptr<PendingFile>> outputs;
  std::size_t fallbacks = 0;
  for (const std::string& task : tasks) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string path = all ? paths::join(st.out, task + ".jsonl") : st.out;
    outputs.push_back(std::make_unique<PendingFile>(path));
    PendingFile& out = *outputs.back();
    const SubsetSpec& spec = find_subset(task);
    std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = 0, sum = 0;
    for (std::size_t i = 0; i < st.count; ++i) {
      const synth::SynthResult r = synth::generate_sample(task, st.tokens, st.seed, i, *tok, haystack);
      out.write(synth::sample_row(r.sample).dump() + "\n");
      lo = std::min(lo, r.prompt_tokens);
      hi = std::max(hi, r.prompt_tokens);
      sum += r.prompt_tokens;
      if (train) {
        const BuiltPrompt prompt = build_prompt(spec, r.sample, *tok, po);
        std::vector<TokenId> answer;
        fallbacks += answer_ids(*tok, prompt, synth::answer_text(r.sample), answer) ? 0 : 1;
        PendingFile& bin = *train;
        put_u32(bin, static_cast<std::uint32_t>(prompt.ids.size()));
        put_u32(bin, static_cast<std::uint32_t>(answer.size()));
        for (TokenId id : prompt.ids) put_u32(bin, static_cast<std::uint32_t>(id));
        for (TokenId id : answer) put_u32(bin, static_cast<std::uint32_t>(id));
      }
      progress.advance(task);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "%s: %zu samples, prompt tokens %lld..%lld (mean %.0f), %.2f s -> %s\n", task.c_str(), st.count,
                 static_cast<long long>(lo), static_cast<long long>(hi),
                 static_cast<double>(sum) / static_cast<double>(st.count), seconds, path.c_str());
  }
  // Everything or nothing: files appear only once every sample was generated.
  for (auto& f : outputs) f->commit();
  if (train) {
    train->commit();
    std::fprintf(stderr, "train records: %zu -> %s\n", tasks.size() * st.count, st.train_out.c_str());
    if (fallbacks > 0)
      std::fprintf(stderr, "note: in %zu records the answer merged with the prompt's last token; their answer ids "
                   "are encode(\" \" + answer) alone\n", fallbacks);
  }
}

}  // namespace

Command add_synth_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "generate the synthetic RULER-style suite (passkey, needles, variable "
                                          "tracking, common words, passages) as LongBench JSONL");
  auto st = std::make_shared<SynthState>();
  cmd->add_option("--task", st->task, "a task (passkey, niah_single, niah_multikey, niah_multivalue, niah_multiquery, "
                  "variable_tracking, common_words, synth_passage_count, synth_passage_retrieval) or 'all'")
      ->required();
  cmd->add_option("--tokens", st->tokens, "prompt length in tokens (task template included; met within 2%)")->required();
  cmd->add_option("--count", st->count, "samples per task")->capture_default_str();
  cmd->add_option("--seed", st->seed, "seed of the set (sample i of task t uses a seed derived from seed, i, t)")
      ->capture_default_str();
  cmd->add_option("--tokenizer", st->tokenizer, "tokenizer file or checkpoint directory that measures the length")
      ->required();
  cmd->add_option("--out", st->out, "output .jsonl file; with --task all a folder that receives <task>.jsonl files")
      ->required();
  cmd->add_option("--haystack", st->haystack, "folder of .txt files to use as filler instead of the generated text");
  cmd->add_option("--train-out", st->train_out, "also write prompt and answer token ids: per sample uint32 "
                  "prompt_len, uint32 answer_len, then the ids (little-endian)");
  cmd->add_option("--max-length", st->max_length, "--train-out: middle-truncate prompts to this many tokens as a run "
                  "with model.max_length would (default: no truncation)");
  return {cmd, [st] { run_synth(*st); }};
}

}  // namespace kvbench::cli
