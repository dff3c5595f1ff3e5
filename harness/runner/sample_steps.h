#pragma once
// The steps of a run's sample loop (harness/runner/runner.cpp), shared with the loop that keeps several samples
// in flight (in_flight_run.cpp): the run's state, a sample's prompt, the prefill of one protocol's variants, their
// decodes and their rows. Internal to the runner room.

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/common/interrupt.h"
#include "harness/common/jsonl.h"
#include "harness/common/log.h"
#include "harness/engine/engine.h"
#include "harness/runner/plan.h"
#include "harness/runner/progress.h"
#include "harness/runner/run_config.h"
#include "harness/runner/runner.h"
#include "harness/runner/session.h"

namespace kvbench::run_steps {

/// The run's row files, open for appending: at most kMaxOpen at a time (a sweep of hundreds of variants writes
/// three files each, and the common limit is 1,024 open files), the least recently used synced and closed to make
/// room. Every row still reaches the disk with its sample.
class Appenders {
 public:
  static constexpr std::size_t kMaxOpen = 32;

  JsonlAppender& get(const std::string& path) {
    if (const auto found = index_.find(path); found != index_.end()) {
      open_.splice(open_.begin(), open_, found->second);
      return *open_.front().second;
    }
    if (open_.size() >= kMaxOpen) {
      open_.back().second->sync();
      index_.erase(open_.back().first);
      open_.pop_back();
    }
    auto appender = std::make_unique<JsonlAppender>(path);  // a failure leaves nothing half-registered
    open_.emplace_front(path, std::move(appender));
    index_[path] = open_.begin();
    return *open_.front().second;
  }
  // To disk, after checking that no file was deleted under the run (rows written there would be lost).
  void sync() {
    for (auto& [path, appender] : open_) {
      appender->check_still_there();
      appender->sync();
    }
  }

 private:
  using Entry = std::pair<std::string, std::unique_ptr<JsonlAppender>>;
  std::list<Entry> open_;  // most recently used first
  std::map<std::string, std::list<Entry>::iterator> index_;
};


// Everything the sample loop carries from one sample to the next.
struct RunState {
  const RunConfig& rc;
  const RunOptions& options;
  const RunPlan& plan;
  Session& session;
  std::set<std::string> done;
  Appenders files;
  bool batch_decode = false;
  std::size_t attempted = 0;  ///< (variant, sample) pairs this session tried
  std::size_t failures = 0;
  std::optional<std::int64_t> peak_device;

  PrefillOptions prefill_options() const {
    PrefillOptions p;
    p.chunk_size = rc.prefill_chunk;
    p.isolate_policies = true;  // one variant's failure must not cost the others their sample
    p.sliding_layers = parse_sliding_layers(rc.sliding_layers, "model.sliding_layers");
    // KVzip's reconstruction pass repeats the prompt after kvpress's instruction (engine.h); none without a tokenizer.
    if (const Tokenizer* t = session.tokenizer())
      for (const char* text : {kReconstructionInstruction, kReconstructionSuffix})
        for (const TokenId id : t->encode(text, /*add_special=*/false)) p.reconstruction_prompt.push_back(id);
    return p;
  }
  // Whether `e` ends the run rather than one (variant, sample) pair: always with --fail-fast, for a write failure
  // (disk full), which is never a sample's, and for a signal; the run's files stay as last synced.
  bool ends_run(const std::exception& e) const {
    return options.fail_fast || dynamic_cast<const WriteError*>(&e) != nullptr ||
           dynamic_cast<const Interrupted*>(&e) != nullptr;
  }
  // Called inside a catch block: rethrows what ends the run, else records the error for that variant.
  void record_error(const Variant& v, const Task& task, const std::exception& e) {
    if (ends_run(e)) throw;
    ++failures;
    const std::string message = short_error_message(e);
    log::warn(v.name, " / ", task.subset, " / ", task.sample.id, ": ", message);
    files.get(plan.layout.errors(v.name, task.subset)).append({{"_id", task.sample.id}, {"error", message}});
  }
};


// A sample's prompt ids, evidence positions and generation settings.
struct SampleInput {
  std::vector<std::int64_t> ids;
  at::Tensor evidence;  ///< bool [T] when the sample marks evidence
  GenerateOptions gen;
  std::int64_t context_tokens = 0;  ///< the query-agnostic split: ids[0, context_tokens) are the context part
};


// What one variant's cache held and generated for a sample.
struct Outcome {
  bool ok = true;
  nlohmann::json coverage;
  std::int64_t kept = 0, kv_bytes = 0, budget = 0;
  GenerationResult out;
};


// One protocol's variants on one sample, between the prefill and the rows.
struct ProtocolRun {
  std::vector<const Variant*> pending;
  PrefillResult prefilled;
  std::vector<Outcome> outcomes;
  std::vector<std::size_t> usable;  ///< variants whose cache is ready to decode
};


bool any_query_agnostic(const RunConfig& rc);
/// New tokens of raw prompt `index`: max_new_tokens if set, else the prompt's own (a shaped workload), else 32.
std::int64_t raw_prompt_new_tokens(const RunConfig& rc, std::size_t index);
/// The prompt, evidence and generation settings of `task`.
SampleInput prepare_sample(const RunState& st, const Task& task);
/// The variants of `task` not finished by an earlier session (--resume).
std::vector<const Variant*> pending_variants(const RunState& st, const Task& task);
/// One prefill for `pending` (one protocol), each variant's coverage, and the question part for query-agnostic.
ProtocolRun prefill_protocol(RunState& st, const Task& task, const SampleInput& in,
                             const std::vector<const Variant*>& pending, bool query_agnostic);
/// Decodes the variants `usable` of a prefill, batched where the engine batches them.
void decode_variants(RunState& st, const Task& task, const std::vector<const Variant*>& pending,
                     const std::vector<std::size_t>& usable, const GenerateOptions& gen, PrefillResult& prefilled,
                     std::vector<Outcome>& outcomes);
/// The prediction and timing rows of a protocol's variants.
void write_rows(RunState& st, const Task& task, const SampleInput& in, const std::vector<const Variant*>& pending,
                const std::vector<Outcome>& outcomes, const PrefillResult& prefilled, std::optional<std::int64_t> peak);

/// Samples the run keeps in flight: model.samples_in_flight, or (auto) 16 on the CUDA graph path; 1 where the
/// variants decode one by one or on the reference path (errors when a number above 1 was asked there).
std::int64_t samples_in_flight(const RunState& st);
/// The plan's samples with `samples` in flight (in_flight_run.cpp); returns how many it completed and describes
/// the in-flight settings in `info` (for manifest.json).
std::size_t run_samples_in_flight(RunState& st, Progress& progress, std::int64_t samples, nlohmann::json& info);

}  // namespace kvbench::run_steps
