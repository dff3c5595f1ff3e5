#include "policies/composed_policy.h"
#include "policies/reference.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "harness/common/error.h"
#include "harness/device/stage_profile.h"

namespace kvbench {
namespace {

class ComposedPolicy final : public EvictionPolicy {
 public:
  ComposedPolicy(std::string name, BudgetSpec budget, CompositionConfig c)
      : name_(std::move(name)), budget_(budget), c_(std::move(c)) {}

  std::string describe() const override {
    std::ostringstream s;
    s << name_ << "(budget=" << budget_.describe();
    if (c_.reference != "kvbench") s << ", reference=" << c_.reference;
    s << ", window=" << c_.score.window;
    if (!c_.keep_window && c_.score.window > 0) s << " (ranked, not always kept)";
    if (c_.score.granularity != GranularityKind::kKvHead) s << ", granularity=" << kind_name(c_.score.granularity);
    if (c_.scorer == ScorerKind::kWindow || c_.scorer == ScorerKind::kCake)
      s << ", kernel=" << c_.score.kernel << ", pool=" << kind_name(c_.score.pool);
    const bool sums_queries = c_.scorer == ScorerKind::kWindow || c_.scorer == ScorerKind::kH2o;
    if (sums_queries && c_.score.query_reduction != QueryReductionKind::kSum)
      s << ", query_reduction=" << kind_name(c_.score.query_reduction);
    describe_scorer(s);
    if (c_.critical)
      s << ", first_stage_ratio=" << c_.critical_first_stage_ratio << ", critical_epsilon=" << c_.critical_epsilon;
    if (c_.layer_allocator == LayerAllocatorKind::kPyramid || c_.layer_allocator == LayerAllocatorKind::kPyramidKvpress)
      s << ", " << kind_name(c_.layer_allocator) << " beta=" << c_.pyramid_beta << (c_.pyramid_fallback ? " (fallback)" : "");
    if (c_.head_allocator != HeadAllocatorKind::kUniform) s << ", " << kind_name(c_.head_allocator) << " alpha=" << c_.ada_alpha;
    if (c_.head_allocator == HeadAllocatorKind::kAda && (c_.ada.normalize || c_.ada.rounding != AdaRoundingKind::kLargestRemainder))
      s << " (" << (c_.ada.normalize ? "normalized, " : "") << kind_name(c_.ada.rounding) << ")";
    if (!c_.skip_layers.empty()) s << ", " << c_.skip_layers.size() << " layers kept whole";
    if (c_.selector == SelectorKind::kKvec)
      s << ", rho=" << c_.kvec.rho << ", lambda=" << c_.kvec.lambda << ", gamma=" << c_.kvec.gamma
        << ", cross_head=" << (c_.kvec.cross_head ? "on" : "off") << ", cross_layer=" << (c_.kvec.cross_layer ? "on" : "off")
        << ", rho_mode=" << c_.kvec.rho_mode << ", band=" << c_.kvec.band;
    return s.str() + ")";
  }

  PolicyInputs inputs() const override {
    switch (c_.scorer) {
      case ScorerKind::kH2o: return {0, true};
      case ScorerKind::kWindow:
      case ScorerKind::kCake: return {c_.score.window, false};
      case ScorerKind::kTova: return {1, false};
      case ScorerKind::kExpectedAttention:  // kvpress fits the Gaussian to every query after the sinks
        return c_.score.ea_stats_window > 0 ? PolicyInputs{c_.score.ea_stats_window, false} : PolicyInputs{0, true};
      case ScorerKind::kKnorm:
      case ScorerKind::kRandom:
      case ScorerKind::kKeydiff:
      case ScorerKind::kLagkv: return {};
      case ScorerKind::kKvzip: {
        PolicyInputs in;
        in.reconstruction = true;
        return in;
      }
    }
    return {};
  }

  void begin_sequence(const SequenceInfo& info) override {
    info_ = info;
    H_ = query_heads() ? info.num_heads : info.num_kv_heads;
    SequenceInfo cache = info;  // a byte budget pays for the heads the cache really holds
    cache.num_kv_heads = H_;
    B_ = budget_.resolve(cache);
    B_exact_ = budget_.exact(cache);
    kept_window_ = c_.keep_window ? c_.score.window : 0;
    b_ = B_ - kept_window_;
    E_ = info.prompt_len - kept_window_;
    kvec_state_ = KvecState{};
    cake_.clear();
    if (evicts() && c_.layer_allocator == LayerAllocatorKind::kPyramid)
      pyramid_ = c_.pyramid_fallback && info.prompt_len < 2 * b_ ? std::vector<std::int64_t>(info.num_layers, b_)
                                                                 : pyramid_budgets(b_, E_, info.num_layers, c_.pyramid_beta);
  }
  std::int64_t resolved_budget() const override { return B_; }
  std::string granularity() const override { return kind_name(c_.score.granularity); }
  std::int64_t kept_window() const override { return c_.keep_window ? c_.score.window : 0; }

  KeptPositions select(const LayerView& layer_view) override {
    LayerView view = layer_view;  // the query heads are known from the sequence when the view does not say
    if (view.num_query_heads == 0) view.num_query_heads = info_.num_heads;
    const std::int64_t T = view.prompt_len(), H = H_;
    const bool skipped = std::find(c_.skip_layers.begin(), c_.skip_layers.end(), view.layer) != c_.skip_layers.end();
    if (!evicts() || skipped) return KeptPositions::all(H, T, view.keys.device());
    if (b_ <= 0) {  // the budget does not exceed the window: keep the most recent B positions
      const at::Tensor recent = at::arange(T - B_, T, at::TensorOptions().dtype(at::kLong).device(view.keys.device()));
      return KeptPositions::uniform(recent.unsqueeze(0).expand({H, B_}));
    }
    StageClock clock(view.keys.device());
    // CAKE's allocator and scorer read the same window attention: compute it once. Scores and window
    // attention are shared through the layer's memo with every policy of the prefill that scores alike.
    const bool cake = c_.layer_allocator == LayerAllocatorKind::kCake;
    const at::Tensor cake_attn = cake
                                     ? memoized(view, "window_attention/" + std::to_string(c_.score.window),
                                                [&] { return window_attention(view, c_.score.window); })
                                     : at::Tensor();
    at::Tensor scores = memoized(view, score_key(), [&] {
      return cake_attn.defined() ? cake_scores(cake_attn, E_, c_.score) : compute_scores(c_.scorer, view, c_.score);
    });  // [H, T - w]
    if (!c_.keep_window) scores = pad_with_top(scores, c_.score.window);  // [H, T]: the window ranked first
    KV_CHECK(scores.size(0) == H && scores.size(1) == E_, "internal error: scores of shape ", scores.sizes(), " for ", H,
             " cache heads and ", E_, " evictable positions");
    clock.lap("policy: scores");

    std::int64_t layer_budget = b_;
    if (c_.layer_allocator == LayerAllocatorKind::kPyramid) layer_budget = pyramid_[view.layer];
    if (c_.layer_allocator == LayerAllocatorKind::kPyramidKvpress)
      layer_budget = kvpress_pyramid_budget(B_exact_, T, c_.score.window, info_.num_layers, view.layer,
                                            c_.pyramid_beta) - kept_window_;
    if (cake) {
      // Provisional: keep up to max_ratio x the mean budget; finish_sequence trims once every layer's
      // preference is known.
      const double preference = cake_preference(cake_attn, E_, c_.cake_tau1, c_.cake_tau2);
      layer_budget = std::min<std::int64_t>(E_, static_cast<std::int64_t>(std::floor(c_.cake_max_ratio * b_)));
      const std::int64_t cap = layer_budget;
      cake_.push_back({preference, top_k_indices(scores, cap)});
    }
    layer_budget = std::clamp<std::int64_t>(layer_budget, 0, E_);

    std::vector<std::int64_t> head_budgets(H, layer_budget);
    // AdaKVPress's safeguard: each head's own top int(n_kept alpha) positions, n_kept counting the window.
    const std::int64_t safe = std::clamp<std::int64_t>(
        static_cast<std::int64_t>(static_cast<double>(layer_budget + kept_window_) * c_.ada_alpha) - kept_window_, 0,
        layer_budget);
    if (c_.head_allocator == HeadAllocatorKind::kAda)
      head_budgets = ada_head_budgets(scores, layer_budget, c_.ada_alpha, c_.ada);
    if (c_.head_allocator == HeadAllocatorKind::kAdaKvpress) head_budgets = kvpress_ada_budgets(scores, layer_budget, safe);
    clock.lap("policy: allocation");
    // CriticalKV allocates by the plain scores (as kvpress's CriticalAdaKV) and selects by its two stages.
    const bool uniform = c_.head_allocator == HeadAllocatorKind::kUniform && layer_budget == b_;
    const at::Tensor ranked =
        c_.critical ? critical_ranking(view, scores, head_budgets, uniform,
                                       c_.head_allocator == HeadAllocatorKind::kAdaKvpress ? safe : 0)
                    : scores;

    const bool kvec = c_.selector == SelectorKind::kKvec;
    const std::vector<at::Tensor> chosen = kvec ? select_kvec(ranked, head_budgets, view.token_ids, c_.kvec, kvec_state_)
                                                : select_top(ranked, head_budgets);
    clock.lap(kvec ? "policy: select (kvec)" : "policy: select (topk)");
    KeptPositions kept = with_window(chosen, E_, T);
    clock.lap("policy: with_window");
    return kept;
  }

  std::vector<std::optional<KeptPositions>> finish_sequence() override {
    if (c_.layer_allocator != LayerAllocatorKind::kCake || cake_.empty()) return {};
    std::vector<double> preferences;
    std::vector<std::int64_t> caps;
    for (const auto& layer : cake_) {
      preferences.push_back(layer.preference);
      caps.push_back(layer.order.size(1));
    }
    const std::int64_t L = static_cast<std::int64_t>(cake_.size());
    const std::vector<std::int64_t> budgets = proportional_allocation(preferences, caps, L * b_);
    last_layer_budgets_ = budgets;
    std::vector<std::optional<KeptPositions>> trims;
    for (std::int64_t l = 0; l < L; ++l) {
      std::vector<at::Tensor> heads;
      for (std::int64_t h = 0; h < cake_[l].order.size(0); ++h)
        heads.push_back(std::get<0>(cake_[l].order[h].narrow(0, 0, budgets[l]).sort()));
      trims.emplace_back(with_window(heads, E_, info_.prompt_len));
    }
    return trims;
  }

 private:
  bool evicts() const { return info_.prompt_len > B_; }

  void describe_scorer(std::ostringstream& s) const {
    const ScoreConfig& k = c_.score;
    if (c_.scorer == ScorerKind::kExpectedAttention)
      s << ", n_future_positions=" << k.n_future_positions << ", n_sink=" << k.n_sink << ", use_covariance="
        << (k.use_covariance ? "on" : "off") << ", use_vnorm=" << (k.use_vnorm ? "on" : "off")
        << ", ea_epsilon=" << k.ea_epsilon << ", ea_stats_window=" << k.ea_stats_window;
    if (c_.scorer == ScorerKind::kKvzip) s << ", n_sink=" << k.n_sink;
    if (c_.scorer == ScorerKind::kLagkv)
      s << ", n_sink=" << k.n_sink << ", lag_size=" << k.lag_size
        << ", cross_scoring=" << (k.lag_cross_scoring ? "on" : "off");
  }

  // CriticalKV's scores for this layer's head budgets: each head's first stage by `scores` (at least the `safe`
  // positions AdaKVPress already pinned), the rest weighted by the values projected through o_proj (those norms are
  // shared through the memo). A uniform layer's first stage is a share of the unrounded budget (kvpress:
  // int((1 - r) T ratio)).
  at::Tensor critical_ranking(const LayerView& view, const at::Tensor& scores, const std::vector<std::int64_t>& budgets,
                              bool uniform, std::int64_t safe) {
    const bool per_query_head = query_heads();
    const at::Tensor norms = memoized(view, "critical_norms/E" + std::to_string(E_) + (per_query_head ? "/q" : ""),
                                      [&] { return projected_value_norms(view, E_, per_query_head); });
    std::vector<std::int64_t> first;
    for (std::int64_t b : budgets) {
      const double total = uniform ? B_exact_ : static_cast<double>(b + kept_window_);
      first.push_back(std::max(std::min(safe, b), critical_first_stage(b, total, kept_window_, c_.critical_first_stage_ratio)));
    }
    return critical_scores(scores, norms, first, c_.critical_epsilon);
  }

  bool query_heads() const { return c_.score.granularity == GranularityKind::kQueryHead; }

  // Everything the scores depend on besides the layer.
  std::string score_key() const {
    std::ostringstream k;
    const ScoreConfig& s = c_.score;
    k << "scores/" << kind_name(c_.scorer) << "/w" << s.window << "/k" << s.kernel << "/" << kind_name(s.pool) << "/"
      << kind_name(s.reduction) << "/" << kind_name(s.granularity) << "/" << kind_name(s.query_reduction);
    if (c_.scorer == ScorerKind::kH2o) k << "/chunk" << s.h2o_query_chunk;
    if (c_.scorer == ScorerKind::kKvzip) k << "/chunk" << s.h2o_query_chunk << "/sink" << s.n_sink;
    if (c_.scorer == ScorerKind::kCake) k << "/gamma" << s.cake_gamma;
    if (c_.scorer == ScorerKind::kRandom) k << "/seed" << s.seed;
    if (c_.scorer == ScorerKind::kExpectedAttention)
      k << "/future" << s.n_future_positions << "/sink" << s.n_sink << "/cov" << s.use_covariance << "/vnorm"
        << s.use_vnorm << "/eps" << s.ea_epsilon << "/stats" << s.ea_stats_window;
    if (c_.scorer == ScorerKind::kLagkv)
      k << "/sink" << s.n_sink << "/lag" << s.lag_size << "/cross" << s.lag_cross_scoring;
    return k.str();
  }

  template <typename F>
  static at::Tensor memoized(const LayerView& view, const std::string& key, F compute) {
    if (view.memo == nullptr) return compute();
    auto it = view.memo->tensors.find(key);
    if (it == view.memo->tensors.end()) it = view.memo->tensors.emplace(key, compute()).first;
    return it->second;
  }

  struct CakeLayer {
    double preference;
    at::Tensor order;  // [H, cap]: each head's positions in descending score order
  };

  std::string name_;
  BudgetSpec budget_;
  CompositionConfig c_;
  SequenceInfo info_;
  std::int64_t H_ = 0;            // cache heads: KV heads, or query heads (granularity query_head)
  std::int64_t B_ = 0, b_ = 0, E_ = 0, kept_window_ = 0;
  double B_exact_ = 0;            // the budget before rounding (BudgetSpec::exact)
  std::vector<std::int64_t> pyramid_, last_layer_budgets_;
  std::vector<CakeLayer> cake_;
  KvecState kvec_state_;
};

// The knobs of the scorers and the score refinement taken from kvpress (Expected Attention, LagKV, CriticalKV).
void read_kvpress_knobs(PolicyParams& p, const CompositionConfig& d, CompositionConfig& c) {
  c.score.n_future_positions = p.get_int("n_future_positions", d.score.n_future_positions);
  c.score.n_sink = p.get_int("n_sink", d.score.n_sink);
  c.score.use_covariance = p.get_bool("use_covariance", d.score.use_covariance);
  c.score.use_vnorm = p.get_bool("use_vnorm", d.score.use_vnorm);
  c.score.ea_epsilon = p.get_double("ea_epsilon", d.score.ea_epsilon);
  c.score.ea_stats_window = p.get_int("ea_stats_window", d.score.ea_stats_window);
  c.score.lag_size = p.get_int("lag_size", d.score.lag_size);
  c.score.lag_cross_scoring = p.get_bool("cross_scoring", d.score.lag_cross_scoring);
  c.critical = p.get_bool("critical", d.critical);
  c.score.granularity = parse_kind<GranularityKind>(p.get_string("granularity", kind_name(d.score.granularity)));
  c.score.query_reduction =
      parse_kind<QueryReductionKind>(p.get_string("query_reduction", kind_name(d.score.query_reduction)));
  c.keep_window = p.get_bool("keep_window", d.keep_window);
  c.pyramid_fallback = p.get_bool("pyramid_fallback", d.pyramid_fallback);
  c.ada.normalize = p.get_bool("ada_normalize", d.ada.normalize);
  c.ada.rounding = parse_kind<AdaRoundingKind>(p.get_string("ada_rounding", kind_name(d.ada.rounding)));
  c.skip_layers = p.get_int_list("skip_layers", d.skip_layers);
  c.critical_first_stage_ratio = p.get_double("first_stage_ratio", d.critical_first_stage_ratio);
  c.critical_epsilon = p.get_double("critical_epsilon", d.critical_epsilon);
}

}  // namespace

CompositionConfig read_composition(PolicyParams& p, CompositionConfig d) {
  CompositionConfig c = d;
  c.scorer = parse_kind<ScorerKind>(p.get_string("scorer", kind_name(d.scorer)));
  c.layer_allocator = parse_kind<LayerAllocatorKind>(p.get_string("layer_allocator", kind_name(d.layer_allocator)));
  c.head_allocator = parse_kind<HeadAllocatorKind>(p.get_string("head_allocator", kind_name(d.head_allocator)));
  c.selector = parse_kind<SelectorKind>(p.get_string("selector", kind_name(d.selector)));
  c.score.window = p.get_int("window", d.score.window);
  c.score.kernel = p.get_int("kernel", d.score.kernel);
  c.score.pool = parse_kind<PoolKind>(p.get_string("pool", kind_name(d.score.pool)));
  c.score.reduction = parse_kind<ReductionKind>(p.get_string("reduction", kind_name(d.score.reduction)));
  c.score.cake_gamma = p.get_double("cake_gamma", d.score.cake_gamma);
  c.score.h2o_query_chunk = p.get_int("query_chunk", d.score.h2o_query_chunk);
  c.pyramid_beta = p.get_double("beta", d.pyramid_beta);
  c.ada_alpha = p.get_double("alpha", d.ada_alpha);
  c.cake_tau1 = p.get_double("tau1", d.cake_tau1);
  c.cake_tau2 = p.get_double("tau2", d.cake_tau2);
  c.cake_max_ratio = p.get_double("cake_max_ratio", d.cake_max_ratio);
  c.kvec.rho = p.get_double("rho", d.kvec.rho);
  c.kvec.lambda = p.get_double("lambda", d.kvec.lambda);
  c.kvec.gamma = p.get_double("gamma", d.kvec.gamma);
  c.kvec.normalization = p.get_string("normalization", d.kvec.normalization);
  c.kvec.unit = p.get_string("unit", d.kvec.unit);
  c.kvec.cross_head = p.get_bool("cross_head", d.kvec.cross_head);
  c.kvec.cross_layer = p.get_bool("cross_layer", d.kvec.cross_layer);
  c.kvec.rho_mode = p.get_string("rho_mode", d.kvec.rho_mode);
  c.kvec.band = p.get_double("band", d.kvec.band);
  read_kvpress_knobs(p, d, c);
  p.finish();

  KV_CHECK(c.layer_allocator != LayerAllocatorKind::kCake || c.scorer == ScorerKind::kCake,
           "the cake layer allocator needs the cake scorer");
  KV_CHECK(c.layer_allocator != LayerAllocatorKind::kCake || c.head_allocator == HeadAllocatorKind::kUniform,
           "the cake layer allocator works with the uniform head allocator");
  KV_CHECK(c.score.window >= 0, "window must be >= 0, got ", c.score.window);
  KV_CHECK(c.score.window >= 1 || (c.scorer != ScorerKind::kWindow && c.scorer != ScorerKind::kCake),
           "the ", kind_name(c.scorer), " scorer needs an observation window: window must be >= 1");
  for (std::int64_t l : c.skip_layers) KV_CHECK(l >= 0, "skip_layers must list layer indices >= 0, got ", l);
  KV_CHECK(c.score.kernel >= 1 && c.score.kernel % 2 == 1, "kernel must be odd and >= 1, got ", c.score.kernel);
  KV_CHECK(c.score.h2o_query_chunk >= 1, "query_chunk must be >= 1");
  KV_CHECK(c.pyramid_beta > 0, "beta must be positive");
  KV_CHECK(c.ada_alpha >= 0 && c.ada_alpha <= 1, "alpha must be in [0, 1]");
  KV_CHECK(c.cake_tau1 > 0 && c.cake_tau2 > 0, "tau1 and tau2 must be positive");
  KV_CHECK(c.cake_max_ratio >= 1, "cake_max_ratio must be >= 1");
  KV_CHECK(c.score.n_future_positions >= 1, "n_future_positions must be >= 1, got ", c.score.n_future_positions);
  KV_CHECK(c.score.n_sink >= 0, "n_sink must be >= 0, got ", c.score.n_sink);
  KV_CHECK(c.score.ea_epsilon >= 0 && c.critical_epsilon >= 0, "ea_epsilon and critical_epsilon must be >= 0");
  KV_CHECK(c.score.ea_stats_window >= 0, "ea_stats_window must be >= 0 (0: every query after the sinks)");
  KV_CHECK(c.score.lag_size >= 1, "lag_size must be >= 1, got ", c.score.lag_size);
  KV_CHECK(c.critical_first_stage_ratio >= 0 && c.critical_first_stage_ratio <= 1,
           "first_stage_ratio must be in [0, 1], got ", c.critical_first_stage_ratio);
  KV_CHECK(!c.critical || c.layer_allocator != LayerAllocatorKind::kCake,
           "critical does not work with the cake layer allocator (its final layer budgets come after selection)");
  validate(c.kvec);
  return c;
}

std::unique_ptr<EvictionPolicy> make_composed_policy(const std::string& name, const BudgetSpec& budget,
                                                     const CompositionConfig& config) {
  return std::make_unique<ComposedPolicy>(name, budget, config);
}

std::unique_ptr<EvictionPolicy> make_preset(const PolicySpec& spec, CompositionConfig defaults) {
  // Presets that follow a reference set defaults.reference from it; the others are kvbench's alone.
  parse_kind<ReferenceKind>(spec.reference);
  KV_CHECK(spec.reference == defaults.reference, "policy '", spec.name, "' has no ", spec.reference,
           " implementation (references: ", defaults.reference, ")");
  PolicyParams params(spec);
  const BudgetSpec budget = params.required_budget();
  const CompositionConfig config = read_composition(params, std::move(defaults));
  return make_composed_policy(spec.name, budget, config);
}

}  // namespace kvbench
