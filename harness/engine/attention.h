#pragma once
// Attention kernels of the engine, as plain functions over tensors: causal prefill attention over a whole
// prompt, and one decode step over a (possibly ragged) LayerCache. Query head i attends with KV head
// i / g (g = Hq / Hkv), as HF's repeat_kv does, without ever expanding K or V.

#include <ATen/ATen.h>

#include <cstdint>

#include "harness/engine/kv_cache.h"
#include "harness/model/layers.h"

namespace kvbench {

/// Which kernel computes a layer's prefill attention.
enum class PrefillKernel {
  kFusedCausal,  ///< at::scaled_dot_product_attention (cuDNN or flash): full causal attention
  kFusedWindow,  ///< libtorch's flash kernel with a window (aten::_flash_attention_forward's window sizes)
  kSoftcapKernel,  ///< kvbench's one-pass kernel (harness/device/cuda/prefill_attention.cu): soft-cap and window
  kChunked,      ///< matmul, soft-cap, mask, softmax, matmul over query chunks and the keys their window reaches
};

/// The kernel prefill_attention uses on `device` in `dtype` for a layer `spec`: the fused kernels on CUDA in
/// bf16/f16 where libtorch has them and the layer has no soft-cap (no fused kernel of libtorch's has one), and
/// kvbench's own kernel for a soft-capped layer where this build has it (KVBENCH_SOFTCAP_ATTENTION=chunked: not);
/// KVBENCH_WINDOW_ATTENTION=chunked sends windowed layers to the chunked path (to compare the two).
PrefillKernel prefill_kernel(at::Device device, at::ScalarType dtype, const AttentionSpec& spec);

/// Causal attention of every prompt position. q [Hq, T, d], k and v [Hkv, T, d] -> [T, Hq d]. On the SDPA
/// path q may be a token-major buffer seen as [Hq, T, d] (strides d, Hq d, 1): the output then comes back in
/// token order and [T, Hq d] needs no transposing copy. `spec` gives the scale, the soft-cap of the scores
/// (HF: after scaling, before the mask) and the window (a query at p sees keys in (p - window, p]).
/// prefill_kernel(...) says which kernel computes it; the chunked path processes at most `query_chunk` queries
/// at a time (fewer where the score matrix would pass 1 GiB) over the keys their window reaches.
at::Tensor prefill_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionSpec& spec,
                             std::int64_t query_chunk);

/// One decode step: q [Hq, d] of the token at `position` against the layer's prompt entries and decode tail
/// (entries outside the window are masked by their positions) -> [Hq d].
at::Tensor decode_attention(const LayerCache& cache, const at::Tensor& q, const AttentionSpec& spec,
                            std::int64_t position);

/// cap * tanh(scores / cap) where `spec` soft-caps, in place; the scores themselves otherwise.
at::Tensor softcap_(at::Tensor scores, const AttentionSpec& spec);

/// The layer as a prefill over `tokens` tokens computes it: a window at least that long hides nothing (query p
/// sees keys > p - window, all of them when p < window), so the layer is computed as a full-attention one and
/// can take the fused path. Phi-3.5 and Phi-4-mini declare a 262,144-token window, Mistral v0.1 4,096. The
/// cache keeps the layer's own spec: decoding past the window still hides what it must.
AttentionSpec prefill_spec(const AttentionSpec& spec, std::int64_t tokens);

/// Whether prefill_attention takes a fused path (which wants q token-major) for a layer `spec` and tensors like
/// `q`, or of this device and dtype.
bool uses_sdpa(const at::Tensor& q, const AttentionSpec& spec);
bool uses_sdpa(at::Device device, at::ScalarType dtype, const AttentionSpec& spec);

}  // namespace kvbench
