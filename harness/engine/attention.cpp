#include "harness/engine/attention.h"

#include <torch/version.h>

#include <algorithm>
#include <limits>
#include <string>

#include "harness/common/error.h"
#include "harness/common/interrupt.h"
#include "harness/common/log.h"
#include "harness/common/system.h"
#include "harness/device/named_op.h"
#include "harness/device/ops.h"

// at::scaled_dot_product_attention exists from libtorch 2.0; its enable_gqa argument from 2.5.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
#define KVBENCH_HAS_SDPA_GQA 1
#else
#define KVBENCH_HAS_SDPA_GQA 0
#endif

namespace kvbench {
namespace {
// libtorch's flash kernel computes a causal band when given window sizes: aten::_flash_attention_forward's
// window_size_left/right (libtorch >= 2.5), which SDPA does not expose. On a libtorch without them windowed
// layers take the chunked path.
const NamedOp& flash_window_op() {
  static const NamedOp op("aten::_flash_attention_forward",
                          {"query", "key", "value", "max_q", "max_k", "dropout_p", "is_causal", "return_debug_mask",
                           "scale", "window_size_left", "window_size_right"});
  return op;
}

// q [n, Hq, d], k and v [T, Hkv, d] (n <= T), each with unit stride in d -> [n, Hq, d]. Query i is the one at
// position p = i + T - n (flash aligns the queries to the last keys) and sees keys in (p - window, p].
at::Tensor flash_window(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                        std::int64_t window) {
  return flash_window_op()
      .call({{"query", q.unsqueeze(0)},
             {"key", k.unsqueeze(0)},
             {"value", v.unsqueeze(0)},
             {"max_q", q.size(0)},
             {"max_k", k.size(0)},
             {"dropout_p", 0.0},
             {"is_causal", true},
             {"return_debug_mask", false},
             {"scale", scale},
             {"window_size_left", window - 1},  // keys >= p - (window - 1)
             {"window_size_right", std::int64_t{0}}})
      .squeeze(0);
}

// KVBENCH_SOFTCAP_ATTENTION=chunked sends soft-capped layers to the chunked path instead of kvbench's kernel.
bool softcap_kernel_disabled() {
  return system::env_choice("KVBENCH_SOFTCAP_ATTENTION", {"kernel", "chunked"}) == "chunked";
}

// KVBENCH_WINDOW_ATTENTION=chunked sends windowed layers to the chunked path instead of flash's band kernel.
bool flash_window_disabled() {
  return system::env_choice("KVBENCH_WINDOW_ATTENTION", {"flash", "chunked"}) == "chunked";
}
}  // namespace

PrefillKernel prefill_kernel(at::Device device, at::ScalarType dtype, const AttentionSpec& spec) {
  // Flash attention needs half precision; in f32 SDPA would fall back to the math kernel, which materializes the
  // whole T x T matrix, so f32 stays on the chunked path. libtorch's fused kernels have no soft-cap: soft-capped
  // layers (Gemma 2) take kvbench's own kernel where it is built, the chunked path otherwise.
  if (!device.is_cuda() || (dtype != at::kBFloat16 && dtype != at::kHalf)) return PrefillKernel::kChunked;
  if (spec.softcap != 0) {
    static const bool softcap_ok =
        !softcap_kernel_disabled() && ops::cuda_kernels_built() && !ops::cuda_kernels_switched_off();
    return softcap_ok ? PrefillKernel::kSoftcapKernel : PrefillKernel::kChunked;
  }
  if (spec.window == 0) return KVBENCH_HAS_SDPA_GQA ? PrefillKernel::kFusedCausal : PrefillKernel::kChunked;
  static const bool window_ok = !flash_window_disabled() && flash_window_op().available();
  return window_ok ? PrefillKernel::kFusedWindow : PrefillKernel::kChunked;
}

bool uses_sdpa(at::Device device, at::ScalarType dtype, const AttentionSpec& spec) {
  return prefill_kernel(device, dtype, spec) != PrefillKernel::kChunked;
}

bool uses_sdpa(const at::Tensor& q, const AttentionSpec& spec) { return uses_sdpa(q.device(), q.scalar_type(), spec); }

AttentionSpec prefill_spec(const AttentionSpec& spec, std::int64_t tokens) {
  AttentionSpec whole = spec;
  if (whole.window >= tokens) whole.window = 0;
  return whole;
}

at::Tensor softcap_(at::Tensor scores, const AttentionSpec& spec) {
  if (spec.softcap <= 0) return scores;
  return scores.div_(spec.softcap).tanh_().mul_(spec.softcap);
}

#if KVBENCH_HAS_SDPA_GQA
namespace {
// Which of libtorch's fused attention kernels prefill asks for: KVBENCH_PREFILL_ATTENTION = cudnn (the
// default: 1.8x flash's TFLOP/s for causal GQA at 8k-32k on an H200, docs/performance.md), flash, or auto
// (libtorch's own choice). A refusal by cuDNN falls back to flash.
const std::string& prefill_backend() {
  static const std::string backend = system::env_choice("KVBENCH_PREFILL_ATTENTION", {"cudnn", "flash", "auto"});
  return backend;
}

// Enables exactly one SDPA backend for its lifetime (so a refusal is an error, never the T x T math kernel).
class SdpBackendScope {
 public:
  explicit SdpBackendScope(bool cudnn) {
    auto& ctx = at::globalContext();
    flash_ = ctx.userEnabledFlashSDP();
    mem_ = ctx.userEnabledMemEfficientSDP();
    math_ = ctx.userEnabledMathSDP();
    cudnn_ = ctx.userEnabledCuDNNSDP();
    ctx.setSDPUseFlash(!cudnn);
    ctx.setSDPUseMemEfficient(false);
    ctx.setSDPUseMath(false);
    ctx.setSDPUseCuDNN(cudnn);
  }
  ~SdpBackendScope() {
    auto& ctx = at::globalContext();
    ctx.setSDPUseFlash(flash_);
    ctx.setSDPUseMemEfficient(mem_);
    ctx.setSDPUseMath(math_);
    ctx.setSDPUseCuDNN(cudnn_);
  }

 private:
  bool flash_, mem_, math_, cudnn_;
};

at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  return at::scaled_dot_product_attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), /*attn_mask=*/{},
                                          /*dropout_p=*/0.0, /*is_causal=*/true, scale, /*enable_gqa=*/true);
}

// Causal attention on the fused kernel KVBENCH_PREFILL_ATTENTION names: q [Hq, T, d], k, v [Hkv, T, d] ->
// [T, Hq d].
at::Tensor fused_causal(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  const std::int64_t Hq = q.size(0), T = q.size(1), d = q.size(2);
  at::Tensor out;
  const std::string& backend = prefill_backend();
  if (backend == "cudnn") {
    try {
      const SdpBackendScope only(/*cudnn=*/true);
      out = sdpa(q, k, v, scale);
    } catch (const std::exception& e) {
      static bool warned = false;
      if (!warned) log::warn("cuDNN attention refused these inputs; using flash: ", short_error_message(e));
      warned = true;
    }
  }
  if (!out.defined()) {
    if (backend == "auto") {
      out = sdpa(q, k, v, scale);
    } else {
      const SdpBackendScope only(/*cudnn=*/false);
      out = sdpa(q, k, v, scale);
    }
  }
  return out.squeeze(0).transpose(0, 1).reshape({T, Hq * d});
}
}  // namespace
#endif

at::Tensor prefill_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionSpec& spec,
                             std::int64_t query_chunk) {
  const std::int64_t Hq = q.size(0), T = q.size(1), d = q.size(2), Hkv = k.size(0), g = Hq / Hkv;
  const double scale = spec.scale;
  const PrefillKernel kernel = prefill_kernel(q.device(), q.scalar_type(), spec);
  if (kernel == PrefillKernel::kFusedWindow) {
    try {
      // All of it on flash's band. Giving the first W queries (plain causal) to cuDNN instead measured slower
      // (Mistral v0.1 at 8k: 67 against 62 ms over 8 layers, docs/performance.md).
      return flash_window(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), scale, spec.window)
          .reshape({T, Hq * d});
    } catch (const std::exception& e) {
      // A GPU or head size the flash kernel does not take: the chunked path computes the same band.
      static bool warned = false;
      if (!warned) log::warn("flash attention refused a sliding-window layer; using the chunked path: ",
                             short_error_message(e));
      warned = true;
    }
  }
  if (kernel == PrefillKernel::kSoftcapKernel && ops::prefill_attention_supported(q, d))
    return ops::prefill_attention(q, k, v, scale, spec.softcap, spec.window);
#if KVBENCH_HAS_SDPA_GQA
  if (kernel == PrefillKernel::kFusedCausal) return fused_causal(q, k, v, scale);
#endif
  KV_CHECK(query_chunk > 0, "prefill chunk size must be positive");
  const std::int64_t W = spec.window;
  if (W > 0 || spec.softcap > 0) {
    // Their scores are not fused away on any device: keep a chunk's score matrix within 2^28 elements.
    const std::int64_t keys = W > 0 ? std::min(T, W + query_chunk) : T;
    query_chunk = std::clamp<std::int64_t>((std::int64_t{1} << 28) / std::max<std::int64_t>(1, Hq * keys), 16, query_chunk);
  }
  at::Tensor out = at::empty({T, Hq * d}, q.options());
  const at::Tensor qg = q.view({Hkv, g, T, d});
  const auto opts = at::TensorOptions().dtype(at::kLong).device(q.device());
  const double inf = std::numeric_limits<double>::infinity();
  for (std::int64_t start = 0; start < T; start += query_chunk) {
    check_interrupt();  // one layer of a long prompt takes minutes on a CPU: a signal must not wait for it
    const std::int64_t n = std::min(query_chunk, T - start), end = start + n;
    // Queries [start, end) see keys [lo, end): query start+i sees keys <= start+i, and with a window only
    // those > start+i - W.
    const std::int64_t lo = W > 0 ? std::max<std::int64_t>(0, start - W + 1) : 0, span = end - lo;
    const at::Tensor qc = qg.narrow(2, start, n).reshape({Hkv, g * n, d});
    // The scores in as few passes over them as libtorch allows (the score matrix is this path's cost): the scale,
    // and the soft-cap's 1/cap, ride in the product; tanh and the cap in place; the masks only where they can hide
    // something; softmax computes in float and rounds once, as HF's float32 softmax cast back.
    const double alpha = spec.softcap > 0 ? scale / spec.softcap : scale;
    // beta = 0 ignores the start on CUDA (cuBLAS); some libtorch CPU kernels still read it (NaN * 0): zeros there.
    at::Tensor scores = (q.is_cuda() ? at::empty({Hkv, g * n, span}, q.options())
                                     : at::zeros({Hkv, g * n, span}, q.options()))
                            .baddbmm_(qc, k.narrow(1, lo, span).transpose(1, 2), /*beta=*/0, alpha);
    if (spec.softcap > 0) scores.tanh_().mul_(spec.softcap);
    const at::Tensor by_query = scores.view({Hkv, g, n, span});
    const at::Tensor query_pos = at::arange(start, end, opts).unsqueeze(1);
    // Causal: only keys [start, end), the last n columns, can lie after a query of the chunk.
    by_query.narrow(3, span - n, n).masked_fill_(at::arange(start, end, opts).unsqueeze(0) > query_pos, -inf);
    if (W > 0) {
      // Window: a key at or before start + i - W hides from query start + i; those lie in the first n columns.
      const std::int64_t m = std::min(n, span);
      by_query.narrow(3, 0, m).masked_fill_(at::arange(lo, lo + m, opts).unsqueeze(0) <= query_pos - W, -inf);
    }
    // CUDA's half-precision softmax accumulates in float; on other devices ask for float explicitly.
    const at::Tensor probs =
        q.is_cuda() ? at::softmax(scores, -1) : at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    const at::Tensor o = at::matmul(probs, v.narrow(1, lo, span));  // [Hkv, g n, d]
    out.narrow(0, start, n).copy_(o.view({Hkv, g, n, d}).permute({2, 0, 1, 3}).reshape({n, Hq * d}));
  }
  return out;
}

at::Tensor decode_attention(const LayerCache& cache, const at::Tensor& q, const AttentionSpec& spec,
                            std::int64_t position) {
  const std::int64_t Hq = q.size(0), d = q.size(1), Hkv = cache.num_heads(), g = Hq / Hkv;
  const double inf = std::numeric_limits<float>::infinity();
  const at::Tensor qg = q.view({Hkv, g, d});
  const at::Tensor tail_k = cache.tail_keys(), tail_v = cache.tail_values();  // [Hkv, t, d]
  const std::int64_t t = tail_k.size(1);
  const at::Tensor tail_scores = at::matmul(qg, tail_k.transpose(1, 2));     // [Hkv, g, t]
  // With a window, entries at positions <= position - W are out of sight (decode entries are consecutive).
  const std::int64_t first_visible = spec.window > 0 ? position - spec.window + 1 : 0;
  const at::Tensor& prompt_pos = cache.prompt_positions();
  const at::Tensor tail_hidden =
      at::arange(cache.tail_start(), cache.tail_start() + t, prompt_pos.options()) < first_visible;  // [t]

  if (cache.uniform()) {
    const at::Tensor pk = cache.prompt_keys_by_head(), pv = cache.prompt_values_by_head();  // [Hkv, B, d]
    const std::int64_t B = pk.size(1);
    at::Tensor scores = softcap_(at::cat({at::matmul(qg, pk.transpose(1, 2)), tail_scores}, -1) * spec.scale, spec);
    if (spec.window > 0) {
      const at::Tensor hidden = at::cat({prompt_pos.view({Hkv, B}) < first_visible, tail_hidden.expand({Hkv, t})}, 1);
      scores = scores.masked_fill(hidden.unsqueeze(1), -inf);
    }
    const at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());  // [Hkv, g, B + t]
    // One rounding for prompt and tail together, as HF's one product over its concatenated cache: in bf16, two
    // products rounded apart and then added drift an ulp from it at every layer and step.
    const at::Tensor from_tail = at::matmul(probs.narrow(2, B, t), tail_v);
    return at::baddbmm(from_tail, probs.narrow(2, 0, B), pv).reshape({Hq * d});
  }

  // Ragged prompt part: score every flat entry against every query head (one matrix product reading each
  // key once), then mask the pairs whose entry belongs to another KV head. Softmax runs over entries.
  const at::Tensor pk = cache.prompt_keys(), pv = cache.prompt_values();  // [N, d]
  const at::Tensor owner_of_query = at::arange(Hq, cache.prompt_heads().options()).div(g, "floor");  // [Hq]
  at::Tensor hidden = cache.prompt_heads().unsqueeze(1) != owner_of_query.unsqueeze(0);               // [N, Hq]
  if (spec.window > 0) hidden = hidden.logical_or((prompt_pos < first_visible).unsqueeze(1));
  const std::int64_t N = pk.size(0);
  at::Tensor scores =
      softcap_(at::cat({at::matmul(pk, q.transpose(0, 1)), tail_scores.reshape({Hq, t}).transpose(0, 1)}, 0) *
                   spec.scale,
               spec);  // [N + t, Hq]
  scores.narrow(0, 0, N).masked_fill_(hidden, -inf);
  if (spec.window > 0) scores.narrow(0, N, t).masked_fill_(tail_hidden.unsqueeze(1), -inf);
  const at::Tensor probs = at::softmax(scores, 0, at::kFloat).to(q.scalar_type());  // [N + t, Hq]
  const at::Tensor from_tail =
      at::matmul(probs.narrow(0, N, t).transpose(0, 1).reshape({Hkv, g, t}), tail_v).reshape({Hq, d});
  return at::addmm(from_tail, probs.narrow(0, 0, N).transpose(0, 1), pv).reshape({Hq * d});  // one rounding, as above
}

}  // namespace kvbench
