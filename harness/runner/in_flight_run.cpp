// Samples in flight (model.samples_in_flight, harness/engine/in_flight.h): the next sample is prefilled and its
// sequences join the decode pools as soon as slots and the memory budget allow; its rows are written once all
// its sequences have ended, in the plan's order (a sample that ends early waits for those before it), so the
// prediction files are the same as one sample at a time, and a killed run loses only the samples in flight.

#include <algorithm>
#include <map>
#include <memory>

#include "harness/common/interrupt.h"
#include "harness/device/memory.h"
#include "harness/engine/in_flight.h"
#include "harness/runner/sample_steps.h"

namespace kvbench::run_steps {
namespace {

// A sample between its prefill and its rows.
struct SampleInFlight {
  std::size_t index = 0;  // in the plan
  const Task* task = nullptr;
  SampleInput in;
  std::vector<ProtocolRun> protocols;
  std::size_t outstanding = 0;  // sequences still in a pool
  bool prepared = false;        // prompt built (false: nothing pending, or its preparation failed)
};

InFlightPlan in_flight_plan(RunState& st, std::int64_t samples) {
  const ModelConfig& c = st.session.config();
  InFlightPlan plan;
  plan.samples = samples;
  std::int64_t longest = 0, most_new = 0;
  for (const Task& task : st.plan.tasks) {
    most_new = std::max(most_new, task.spec != nullptr ? st.rc.max_new_tokens.value_or(task.spec->max_new_tokens)
                                                       : raw_prompt_new_tokens(st.rc, task.prompt_index));
    longest = std::max(longest, task.spec != nullptr       ? st.rc.max_length
                                : !st.rc.prompt_ids.empty() ? static_cast<std::int64_t>(st.rc.prompt_ids.size())
                                                            : st.rc.random_prompts.at(task.prompt_index).tokens);
  }
  plan.max_prompt = std::max<std::int64_t>(1, longest);
  // The query-agnostic protocol's question part is decode entries too, ahead of the new tokens.
  plan.max_new = std::max<std::int64_t>(1, most_new) + (any_query_agnostic(st.rc) ? 512 : 0);
  // Per cache head count, the variants that join a pool: what sample_needs counts for any prompt.
  std::vector<SampleVariant> variants;
  for (const auto& v : st.rc.variants) variants.push_back({v.spec, !v.decode.enabled()});
  plan.variants_per_heads =
      sample_needs(c, static_cast<std::int64_t>(c10::elementSize(st.session.dtype())), 1, variants,
                   parse_sliding_layers(st.rc.sliding_layers, "model.sliding_layers"))
          .sequences;
  GenerateOptions probe;
  probe.decode_path = st.rc.decode_path;
  plan.graphs = st.session.engine().decode_path(probe) == "graph";
  plan.memory_bytes = in_flight_memory_budget(st.rc.in_flight_memory, st.session.device());
  return plan;
}

// What a sample asks of the pools: its pending variants for its prompt's length.
SampleNeeds needs_of(const RunState& st, const SampleInFlight& s) {
  std::vector<SampleVariant> variants;
  for (const Variant* v : pending_variants(st, *s.task)) variants.push_back({v->spec, !v->decode.enabled()});
  return sample_needs(st.session.config(), static_cast<std::int64_t>(c10::elementSize(st.session.dtype())),
                      static_cast<std::int64_t>(s.in.ids.size()), variants,
                      parse_sliding_layers(st.rc.sliding_layers, "model.sliding_layers"));
}

class InFlightLoop {
 public:
  InFlightLoop(RunState& st, Progress& progress, std::int64_t samples)
      : st_(st), progress_(progress), plan_(in_flight_plan(st, samples)),
        decoder_(std::make_unique<InFlightDecoder>(st.session.model(), plan_)) {
    log::info("samples in flight: up to ", plan_.samples, " (", plan_.memory_bytes > 0 ? log::fixed(plan_.memory_bytes / 1e9, 2) + " GB" : std::string("no"),
              " memory budget for their caches and decode tails)");
  }

  /// Runs the plan's samples; returns how many were completed.
  std::size_t run() {
    try {
      loop();
    } catch (const Interrupted&) {  // a long step abandoned (check_interrupt): --resume redoes the samples in flight
    }
    return written_;
  }

  nlohmann::json describe() const {
    return {{"samples", plan_.samples}, {"memory_budget_bytes", plan_.memory_bytes}, {"most_samples_in_flight", most_}};
  }

 private:
  void loop() {
    const std::vector<Task>& tasks = st_.plan.tasks;
    while (true) {
      start_samples(tasks);
      write_finished();
      if (decoder_->in_flight() == 0) {
        if (interrupt_signal() != 0 || (!waiting_ && next_task_ >= tasks.size())) break;
        continue;
      }
      step();
      write_finished();
    }
  }

  std::size_t samples_decoding() const {
    std::size_t n = 0;
    for (const auto& [index, s] : live_) n += s->outstanding > 0;
    return n;
  }

  // Prepares the next samples and starts those that fit.
  void start_samples(const std::vector<Task>& tasks) {
    while (interrupt_signal() == 0 && (waiting_ || next_task_ < tasks.size())) {
      if (!waiting_) {
        waiting_ = std::make_unique<SampleInFlight>();
        waiting_->index = next_task_;
        waiting_->task = &tasks[next_task_++];
        const std::vector<const Variant*> pending = pending_variants(st_, *waiting_->task);
        if (!pending.empty()) {
          st_.attempted += pending.size();
          try {
            waiting_->in = prepare_sample(st_, *waiting_->task);
            waiting_->prepared = true;
          } catch (const std::exception& e) {
            for (const Variant* v : pending) st_.record_error(*v, *waiting_->task, e);
          }
        }
        if (!waiting_->prepared) {  // nothing to decode: its rows (none, or errors) are written in order
          live_[waiting_->index] = std::move(waiting_);
          continue;
        }
      }
      if (samples_decoding() >= static_cast<std::size_t>(plan_.samples)) return;
      if (!decoder_->can_start(needs_of(st_, *waiting_))) return;
      start(*waiting_);
      live_[waiting_->index] = std::move(waiting_);
      most_ = std::max<std::int64_t>(most_, static_cast<std::int64_t>(samples_decoding()));
    }
  }

  // Prefills sample `s` and hands its sequences to the pools; what cannot join one decodes here, alone.
  void start(SampleInFlight& s) {
    for (const std::string& protocol : protocol_names()) {
      std::vector<const Variant*> group;
      for (const Variant* v : pending_variants(st_, *s.task))
        if (v->protocol == protocol) group.push_back(v);
      if (group.empty()) continue;
      s.protocols.push_back(prefill_protocol(st_, *s.task, s.in, group, protocol == "query_agnostic"));
      ProtocolRun& run = s.protocols.back();
      const std::size_t p = s.protocols.size() - 1;
      const bool own = run.prefilled.cache_logits.defined();
      std::vector<std::size_t> alone;
      for (std::size_t i : run.usable) {
        const KvCache& cache = run.prefilled.caches[i];
        if (run.pending[i]->decode.enabled() || !decoder_->fits(cache, s.in.gen.max_new_tokens)) {
          alone.push_back(i);
          continue;
        }
        const std::uint64_t tag = next_tag_++;
        refs_[tag] = {&s, p, i};
        const at::Tensor first = own ? run.prefilled.cache_logits[static_cast<std::int64_t>(i)] : run.prefilled.last_logits;
        decoder_->admit({tag, &cache, first, s.in.gen});
        ++s.outstanding;
      }
      decode_variants(st_, *s.task, run.pending, alone, s.in.gen, run.prefilled, run.outcomes);
    }
  }

  // Runs the pools until some sequences end, and gives each its outcome.
  void step() {
    std::vector<PoolResult> done;
    try {
      done = decoder_->run_until_finished();
    } catch (const std::exception& e) {
      // The pools' state is unknown after a failed step: every sequence in flight fails, the pools start over.
      for (auto& [tag, ref] : refs_) {
        ProtocolRun& run = ref.sample->protocols[ref.protocol];
        run.outcomes[ref.variant].ok = false;
        --ref.sample->outstanding;
        st_.record_error(*run.pending[ref.variant], *ref.sample->task, e);
      }
      refs_.clear();
      decoder_ = std::make_unique<InFlightDecoder>(st_.session.model(), plan_);
      return;
    }
    for (PoolResult& r : done) {
      const Ref ref = refs_.at(r.tag);
      refs_.erase(r.tag);
      ProtocolRun& run = ref.sample->protocols[ref.protocol];
      run.outcomes[ref.variant].out = std::move(r.result);
      run.prefilled.caches[ref.variant] = KvCache{};  // the pool is done with it
      --ref.sample->outstanding;
    }
  }

  // The rows of finished samples, in the plan's order.
  void write_finished() {
    for (auto it = live_.find(next_row_); it != live_.end() && it->second->outstanding == 0; it = live_.find(next_row_)) {
      SampleInFlight& s = *it->second;
      const std::optional<std::int64_t> peak = peak_device_memory(st_.session.device());
      if (peak) st_.peak_device = std::max(st_.peak_device.value_or(0), *peak);
      for (ProtocolRun& run : s.protocols) write_rows(st_, *s.task, s.in, run.pending, run.outcomes, run.prefilled, peak);
      st_.files.sync();
      if (s.prepared) progress_.advance(static_cast<std::int64_t>(s.in.ids.size()), s.task->subset);
      else progress_.advance(0, s.task->subset + (pending_variants(st_, *s.task).empty() ? " (done)" : ""));
      live_.erase(it);
      ++next_row_;
      ++written_;
    }
  }

  struct Ref {
    SampleInFlight* sample;
    std::size_t protocol, variant;
  };
  RunState& st_;
  Progress& progress_;
  InFlightPlan plan_;
  std::unique_ptr<InFlightDecoder> decoder_;
  std::map<std::size_t, std::unique_ptr<SampleInFlight>> live_;  // by plan index, until their rows are written
  std::unique_ptr<SampleInFlight> waiting_;  // prepared, waiting for room
  std::map<std::uint64_t, Ref> refs_;
  std::uint64_t next_tag_ = 0;
  std::size_t next_task_ = 0, next_row_ = 0, written_ = 0;
  std::int64_t most_ = 0;
};

}  // namespace

// How many samples may be in flight: the config's number, or (auto) 16 where steps are CUDA graphs; 1 where the
// variants decode one by one or on the reference path (which pads instead of reading caches in place).
std::int64_t samples_in_flight(const RunState& st) {
  GenerateOptions probe;
  probe.decode_path = st.rc.decode_path;
  const std::string path = st.session.engine().decode_path(probe);
  const bool off = st.rc.batch_decode == "off";
  if (off || path == "reference") {
    KV_CHECK(st.rc.samples_in_flight <= 1, "model.samples_in_flight ", st.rc.samples_in_flight, " needs decodes that "
             "batch on the ragged or graph path; this run decodes ", off ? "with model.batch_decode off" : "on the reference path",
             " (set model.decode to ragged or graph, and batch_decode to auto or on)");
    return 1;
  }
  if (st.rc.samples_in_flight > 0) return st.rc.samples_in_flight;
  return path == "graph" && st.batch_decode ? 16 : 1;
}

std::size_t run_samples_in_flight(RunState& st, Progress& progress, std::int64_t samples, nlohmann::json& info) {
  InFlightLoop loop(st, progress, samples);
  const std::size_t done = loop.run();
  info = loop.describe();
  return done;
}

}  // namespace kvbench::run_steps
