#pragma once
// The model's small fused operations, one function each, over tensors: on CUDA (when this build compiled
// harness/device/cuda) one kernel each; everywhere else the libtorch code they replace, unchanged, so CPU
// results are bit-for-bit what they were. Both compute HF's eager arithmetic (the same roundings to the model
// dtype); they differ only in float summation order.

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kvbench::ops {

/// Whether this build has kvbench's CUDA kernels (libtorch with CUDA and nvcc at configure time).
bool cuda_kernels_built();
/// Whether the functions below take their CUDA kernel for tensors like `x`: a CUDA tensor of a kernel dtype, on a
/// device the kernels can run on. That is checked once per device (machine code or PTX for its architecture in
/// this build) and logged once where they cannot: kvbench then runs its libtorch path there, never fails with
/// "no kernel image". KVBENCH_CUDA_KERNELS=off in the environment switches them off on every device.
bool fused(const at::Tensor& x);

/// Whether KVBENCH_CUDA_KERNELS=off (or 0) switches the kernels off; any value but on/auto/1/off/0 is an error.
bool cuda_kernels_switched_off();
/// Why kvbench's CUDA kernels do not run on CUDA device `index`, or empty when they do.
std::string kernels_unavailable_reason(int index);

/// One visible GPU as `kvbench --version` reports it.
struct GpuInfo {
  int index = 0;
  std::string name;
  int capability = -1;   ///< major * 10 + minor
  std::string kernels;   ///< "run" or why not
};
/// The GPUs libtorch sees (empty without CUDA).
std::vector<GpuInfo> visible_gpus();
/// CUDA runtime / driver / kernels' toolkit versions for --version ("runtime 12.4, driver 12.8, ..."), or "".
std::string cuda_versions();
/// Whether `device` computes in bf16 natively (CUDA compute capability 8.0 and up; the CPU does).
bool supports_bf16(at::Device device);
/// A CUDA device's compute capability as major * 10 + minor (90 for an H100); -1 for the CPU or when unknown.
int compute_capability(at::Device device);

/// RMSNorm as HF computes it: normalize in float32, cast back, then scale by `weight` in the input dtype
/// (Llama); with `unit_offset`, scale by (1 + weight) in float32 before the cast back (Gemma).
/// x [n, D] (rows may be strided), weight [D] -> [n, D].
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool unit_offset = false);

/// silu(gate) * up for gate_up [n, 2I] = [gate | up] -> [n, I].
at::Tensor silu_mul(const at::Tensor& gate_up);

/// The activations of gated MLPs: SiLU (SwiGLU), GELU with the tanh approximation (Gemma's GeGLU), exact GELU.
enum class GateActivation { kSilu, kGeluTanh, kGelu };
/// act(gate) * up for gate_up [n, 2I] = [gate | up] -> [n, I]; the activation rounds to the dtype before the
/// product, as HF's act_fn(gate_proj(x)) * up_proj(x).
at::Tensor gated_activation(const at::Tensor& gate_up, GateActivation activation);

/// HF's rotate-half RoPE: x [n, heads, d] * cos + rotate_half(x) * sin, with cos/sin [n, d].
at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

/// Splits fused projections qkv [n, (hq + 2 hkv) d] and writes q = rotate(q), k = rotate(k), v into
/// q_out [n, hq, d], k_out and v_out [n, hkv, d] (views with any strides, last dimension contiguous).
void rope_split(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin, std::int64_t hq,
                std::int64_t hkv, const at::Tensor& q_out, const at::Tensor& k_out, const at::Tensor& v_out);

/// The decode form, for B sequences each at its own position: cos/sin are whole tables [P, d] and
/// `position` (int64 [B] on the device) picks sequence b's row; its k and v go to slot `slot[b]` (int64 [B] on
/// the device) of k_cache/v_cache [B, hkv, capacity, d]; q to q_out [B, hq, d]. Nothing is read back to the
/// host, so a CUDA graph can capture it and replay it for every step.
void rope_split_at(const at::Tensor& qkv, const at::Tensor& cos_table, const at::Tensor& sin_table,
                   const at::Tensor& position, std::int64_t hq, std::int64_t hkv, const at::Tensor& q_out,
                   const at::Tensor& k_cache, const at::Tensor& v_cache, const at::Tensor& slot);

/// The layout decode_attention reads: per sequence b, row b of `meta` (int64 [B, 4 + hkv], on the device of
/// the caches) holds the addresses of its flat prompt keys and values [N_b, d] and of their positions (int64
/// [N_b]), then its head offsets [hkv + 1] into them; decode entries live in tail_k/tail_v
/// [B, hkv, capacity, d], the first `tail_count[b]` of each of sequence b's heads valid (sequences admitted at
/// different steps hold different numbers), at consecutive positions ending at the query's.
struct RaggedBatch {
  at::Tensor meta;
  at::Tensor tail_k, tail_v;
  at::Tensor tail_count;  ///< int64 [B] on the device
};
/// Columns of RaggedBatch::meta before the head offsets.
constexpr std::int64_t kRaggedMetaHeader = 3;

/// What a decode step's attention does beyond softmax(scale q.k): HF's soft-cap of the scores (Gemma 2) and
/// a sliding window (keys at positions <= position - window are hidden).
struct DecodeMask {
  double softcap = 0.0;    ///< 0: none
  std::int64_t window = 0; ///< 0: none
  at::Tensor position;     ///< int64 [B] on the device: each sequence's query position (read with a window)
};

/// Split-K sizes for decode_attention: `chunk` entries per block, `num_chunks` blocks per (sequence, head).
struct DecodeSplit {
  std::int64_t chunk = 256;
  std::int64_t num_chunks = 1;
  /// Enough blocks to fill `multiprocessors` for B sequences of hkv heads and up to `max_entries` entries.
  static DecodeSplit plan(std::int64_t max_entries, std::int64_t batch, std::int64_t hkv, std::int64_t multiprocessors);
};

/// Whether decode_attention has a kernel for this head dim and query heads per KV head (CUDA tensors).
bool decode_attention_supported(std::int64_t head_dim, std::int64_t group);

/// One decode step of attention: q [B, hq, d] over `batch` -> [B, hq * d]. On CUDA a split-K kernel with
/// float workspaces (allocated here, so inside a graph capture they come from the graph's pool); on the CPU
/// a plain libtorch reference over the same layout.
at::Tensor decode_attention(const at::Tensor& q, const RaggedBatch& batch, double scale, const DecodeSplit& split,
                            const DecodeMask& mask = {});

/// Whether prefill_attention below runs on tensors like `q` (CUDA, bf16 or f16, kernels built and usable there)
/// for head dim `head_dim`.
bool prefill_attention_supported(const at::Tensor& q, std::int64_t head_dim);
/// Causal prefill attention with a soft-cap and a window in one pass (kvbench's kernel): q [Hq, T, d], k and v
/// [Hkv, T, d], any strides with unit stride in d and rows 16-byte aligned -> [T, Hq d]. A query at p sees keys
/// in (p - window, p] (window 0: all up to p); scores are softcap * tanh(scale q.k / softcap) (softcap 0: scale q.k).
at::Tensor prefill_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                             double softcap, std::int64_t window);

/// Number of multiprocessors of CUDA device `index` (1 where unknown).
std::int64_t multiprocessor_count(at::Device device);
/// The CUDA device's name ("NVIDIA H200"), or "cpu".
std::string device_name(at::Device device);

}  // namespace kvbench::ops
