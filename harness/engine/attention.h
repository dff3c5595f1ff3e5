#pragma once
// Attention kernels of the engine, as plain functions over tensors: causal prefill attention over a whole
// prompt, and one decode step over a (possibly ragged) LayerCache. Query head i attends with KV head
// i / g (g = Hq / Hkv), as HF's repeat_kv does, without ever expanding K or V.

#include <ATen/ATen.h>

#include <cstdint>

#include "harness/engine/kv_cache.h"

namespace kvbench {

/// Causal attention of every prompt position. q [Hq, T, d], k and v [Hkv, T, d] -> [T, Hq d]. On the SDPA
/// path q may be a token-major buffer seen as [Hq, T, d] (strides d, Hq d, 1): the output then comes back in
/// token order and [T, Hq d] needs no transposing copy.
/// Uses at::scaled_dot_product_attention (flash) on CUDA for bf16/f16 where libtorch has it; otherwise a
/// plain matmul-softmax path processing `query_chunk` queries at a time to bound the score matrix.
at::Tensor prefill_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                             std::int64_t query_chunk);

/// One decode step: q [Hq, d] against the layer's prompt entries and decode tail -> [Hq d].
at::Tensor decode_attention(const LayerCache& cache, const at::Tensor& q, double scale);

/// Whether prefill_attention takes the SDPA path for tensors like `q`, or of this device and dtype.
bool uses_sdpa(const at::Tensor& q);
bool uses_sdpa(at::Device device, at::ScalarType dtype);

}  // namespace kvbench
