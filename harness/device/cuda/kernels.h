#pragma once
// Launchers of kvbench's CUDA kernels, over raw device pointers (no libtorch here, so this half builds and is
// checked with nvcc alone). harness/device/ops.cpp validates tensors and calls these; see ops.h for what each
// computes. Every launcher returns the launch's cudaError_t as an int (0: success).

#include <cstdint>

namespace kvbench::cuda {

/// Element types of the kernels' tensors.
enum class ElementType : int { kFloat32 = 0, kBFloat16 = 1, kFloat16 = 2 };

/// out = weight * to_dtype(x * rsqrt(mean(x^2) + eps)) per row, HF's rounding (x [rows, cols]; rows of
/// `x_stride` elements; out contiguous [rows, cols]). With `unit_offset` (Gemma):
/// out = to_dtype(x * rsqrt(mean(x^2) + eps) * (1 + weight)), all in float.
int rms_norm(ElementType t, const void* x, std::int64_t x_stride, const void* weight, void* out, std::int64_t rows,
             std::int64_t cols, float eps, bool unit_offset, void* stream);

/// out[r, j] = to_dtype(to_dtype(silu(g)) * u) with g = gate_up[r, j], u = gate_up[r, half + j]
/// (gate_up [rows, 2 half] contiguous, out [rows, half] contiguous).
int silu_mul(ElementType t, const void* gate_up, void* out, std::int64_t rows, std::int64_t half, void* stream);

/// The same with GELU: out[r, j] = to_dtype(to_dtype(gelu(g)) * u), gelu with the tanh approximation when
/// `tanh` (Gemma's gelu_pytorch_tanh), else exact (erf).
int gelu_mul(ElementType t, const void* gate_up, void* out, std::int64_t rows, std::int64_t half, bool tanh,
             void* stream);

/// Where rope_split writes one of q, k, v: element (row r, head h, i) goes to
/// base + r * row_stride + h * head_stride + i, plus slot[r] * slot_stride when slot is not null (decode: each
/// sequence's cache slot is read on the device, so a captured CUDA graph writes to the step's slot).
struct HeadsOut {
  void* base = nullptr;
  std::int64_t row_stride = 0, head_stride = 0, slot_stride = 0;
  const std::int64_t* slot = nullptr;
};

/// Splits fused projections qkv [rows, (hq + 2 hkv) d] (row stride `qkv_stride`) into q, k (both rotated by
/// RoPE, HF's rotate-half with the dtype's rounding) and v. cos/sin are tables of rows of d elements: row r
/// uses table row r, or table row position[r] when `position` is not null (decode: row r is sequence r, at its
/// own position). An output with `slot` set writes row r at slot slot[r].
int rope_split(ElementType t, const void* qkv, std::int64_t qkv_stride, const void* cos, const void* sin,
               const std::int64_t* position, std::int64_t rows, int hq, int hkv, int d, HeadsOut q, HeadsOut k,
               HeadsOut v, void* stream);

/// One decode step of attention for a batch of sequences whose prompt entries are ragged per KV head.
/// Sequence b, KV head h attends over n_bh prompt entries, then `tail_count[b]` decode entries:
///  - meta[b * meta_stride + 0 / 1 / 2]: device addresses of that sequence's flat prompt keys / values [N_b, d]
///    and their positions (int64 [N_b]); meta[b * meta_stride + 3 + h] .. [+ 4 + h]: head h's rows
///    [offset_h, offset_{h+1}) of them;
///  - tail_k/tail_v [B, hkv, tail_capacity, d]: the decode entries;
///  - q [B, hq, d]; out [B, hq * d]. Query head i uses KV head i / (hq / hkv), as HF's repeat_kv.
/// Scores are scale * q.k, soft-capped (softcap * tanh(s / softcap)) when softcap > 0; with window > 0 an entry
/// at a position <= position[b] - window is hidden (decode entries sit at consecutive positions ending
/// at position[b]). Split-K over `num_chunks` chunks of `chunk` entries each (partials in float workspaces of
/// B * hq * num_chunks * (d + 2) floats), then one combine; deterministic (no atomics).
struct DecodeAttention {
  const void* q = nullptr;
  const std::int64_t* meta = nullptr;
  int meta_stride = 0;
  const void* tail_k = nullptr;
  const void* tail_v = nullptr;
  std::int64_t tail_capacity = 0;
  const std::int64_t* tail_count = nullptr;  ///< [B]: each sequence's decode entries (after this step's append)
  int batch = 0, hq = 0, hkv = 0, d = 0;
  float scale = 1.0f;
  float softcap = 0.0f;                    ///< 0: none
  std::int64_t window = 0;                 ///< 0: none
  const std::int64_t* position = nullptr;  ///< [B]: each sequence's query position (device), read with a window
  int chunk = 0, num_chunks = 0;
  float* partial_acc = nullptr;  ///< [B, hq, num_chunks, d]
  float* partial_ml = nullptr;   ///< [B, hq, num_chunks, 2]: running max and sum of exponentials
  void* out = nullptr;
};
int decode_attention(ElementType t, const DecodeAttention& args, void* stream);

/// Whether decode_attention has a kernel for head dim `d` and `group` = hq / hkv query heads per KV head.
bool decode_attention_supports(int d, int group);
/// The largest `chunk` decode_attention accepts.
constexpr int kMaxDecodeChunk = 256;

/// Causal prefill attention of one sequence with an optional soft-cap and window, in one pass (flash-attention
/// style; bf16 or f16, head dim 64, 128 or 256, sm_80 and later). Query head h uses KV head h / (hq / hkv).
/// Element (token i, head h, dim j) of q is at q + i * q_row_stride + h * q_head_stride + j (likewise k, v);
/// out is [tokens, hq, d] contiguous. Scores are scale * q.k, then softcap * tanh(s / softcap) when softcap > 0;
/// query i sees keys j <= i, and with window > 0 only j > i - window. Softmax in float, P rounded to the element
/// type for the product with V, as flash attention does.
struct PrefillAttention {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  std::int64_t q_row_stride = 0, q_head_stride = 0;
  std::int64_t k_row_stride = 0, k_head_stride = 0;
  std::int64_t v_row_stride = 0, v_head_stride = 0;
  void* out = nullptr;
  std::int64_t tokens = 0;
  int hq = 0, hkv = 0, d = 0;
  float scale = 1.0f;
  float softcap = 0.0f;     ///< 0: none
  std::int64_t window = 0;  ///< 0: none
};
int prefill_attention(ElementType t, const PrefillAttention& args, void* stream);
/// Whether prefill_attention has a kernel for head dim `d`.
bool prefill_attention_supports(int d);

/// Human-readable text of a launcher's return code.
const char* error_string(int code);

/// 0 when this build's kernels can run on CUDA device `device` (machine code for its architecture, or PTX the
/// driver compiles for it); else the CUDA error (cudaErrorNoKernelImageForDevice, ...). Loads the module.
int kernels_loadable(int device);
/// The device's compute capability as major * 10 + minor (90 for an H100), or -1 when it cannot be read.
int device_capability(int device);
/// Versions as CUDA writes them (12040 = 12.4): the runtime loaded in this process, the driver, and the toolkit
/// the kernels were compiled with; 0 where unknown.
int runtime_version();
int driver_version();
int compiled_runtime_version();

}  // namespace kvbench::cuda
