// kvbench's CUDA kernels: fused RMSNorm, SiLU-and-multiply, RoPE with the q/k/v split, and split-K decode
// attention over ragged per-head caches. Each one replaces several libtorch launches, and each rounds where HF
// rounds (values are rounded to the model dtype exactly where HF's eager code materializes a tensor), so the
// fused paths agree with the reference to float summation order.
#include "harness/device/cuda/kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cstdint>

namespace kvbench::cuda {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Element conversions. Rounding to bf16/f16 is round-to-nearest-even, as c10's conversions.
template <typename T>
__device__ __forceinline__ float to_float(T x);
template <>
__device__ __forceinline__ float to_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }
template <>
__device__ __forceinline__ float to_float<__half>(__half x) { return __half2float(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }

/// x rounded to T and back: where HF's eager code stores an intermediate tensor in the model dtype.
template <typename T>
__device__ __forceinline__ float round_to(float x) { return to_float(from_float<T>(x)); }

// N consecutive elements as floats, loaded 16 (or 8) bytes at a time. `p` must be aligned to that width.
template <typename T, int N>
__device__ __forceinline__ void load(const T* p, float (&out)[N]) {
  constexpr int kBytes = N * static_cast<int>(sizeof(T));
  if constexpr (kBytes % 16 == 0) {
    constexpr int kPer = 16 / sizeof(T);
#pragma unroll
    for (int c = 0; c < kBytes / 16; ++c) {
      const uint4 raw = reinterpret_cast<const uint4*>(p)[c];
      const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
      for (int i = 0; i < kPer; ++i) out[c * kPer + i] = to_float(e[i]);
    }
  } else if constexpr (kBytes == 8) {
    const uint2 raw = *reinterpret_cast<const uint2*>(p);
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int i = 0; i < N; ++i) out[i] = to_float(e[i]);
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) out[i] = to_float(p[i]);
  }
}

template <typename T, int N>
__device__ __forceinline__ void store(T* p, const float (&in)[N]) {
  constexpr int kBytes = N * static_cast<int>(sizeof(T));
  if constexpr (kBytes % 16 == 0) {
    constexpr int kPer = 16 / sizeof(T);
#pragma unroll
    for (int c = 0; c < kBytes / 16; ++c) {
      uint4 raw;
      T* e = reinterpret_cast<T*>(&raw);
#pragma unroll
      for (int i = 0; i < kPer; ++i) e[i] = from_float<T>(in[c * kPer + i]);
      reinterpret_cast<uint4*>(p)[c] = raw;
    }
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) p[i] = from_float<T>(in[i]);
  }
}

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}
__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

int status() { return static_cast<int>(cudaGetLastError()); }

// ---------------------------------------------------------------------------------------------------------
// RMSNorm: one block per row. HF: xf = x.float(); n = xf * rsqrt(mean(xf^2) + eps); out = w * n.to(dtype).
constexpr int kNormThreads = 256;

template <typename T, int V>
__global__ void __launch_bounds__(kNormThreads) rms_norm_kernel(const T* __restrict__ x, std::int64_t x_stride,
                                                                const T* __restrict__ w, T* __restrict__ out,
                                                                int cols, float eps) {
  const T* row = x + blockIdx.x * x_stride;
  T* dst = out + static_cast<std::int64_t>(blockIdx.x) * cols;
  float sum = 0.f;
  for (int c = threadIdx.x * V; c < cols; c += kNormThreads * V) {
    float v[V];
    load<T, V>(row + c, v);
#pragma unroll
    for (int i = 0; i < V; ++i) sum += v[i] * v[i];
  }
  __shared__ float partial[kNormThreads / 32];
  sum = warp_sum(sum);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = sum;
  __syncthreads();
  if (threadIdx.x < 32) {
    float s = threadIdx.x < kNormThreads / 32 ? partial[threadIdx.x] : 0.f;
    s = warp_sum(s);
    if (threadIdx.x == 0) partial[0] = s;
  }
  __syncthreads();
  const float r = rsqrtf(partial[0] / static_cast<float>(cols) + eps);
  for (int c = threadIdx.x * V; c < cols; c += kNormThreads * V) {
    float v[V], g[V];
    load<T, V>(row + c, v);
    load<T, V>(w + c, g);
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] = g[i] * round_to<T>(v[i] * r);
    store<T, V>(dst + c, v);
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

template <typename T>
int rms_norm_typed(const void* x, std::int64_t x_stride, const void* w, void* out, std::int64_t rows,
                   std::int64_t cols, float eps, cudaStream_t stream) {
  if (rows == 0) return 0;
  constexpr int V = 16 / sizeof(T);
  const bool vec = cols % V == 0 && x_stride % V == 0 && aligned16(x) && aligned16(w) && aligned16(out);
  const auto* xt = static_cast<const T*>(x);
  const auto* wt = static_cast<const T*>(w);
  auto* ot = static_cast<T*>(out);
  if (vec)
    rms_norm_kernel<T, V><<<static_cast<unsigned>(rows), kNormThreads, 0, stream>>>(xt, x_stride, wt, ot,
                                                                                    static_cast<int>(cols), eps);
  else
    rms_norm_kernel<T, 1><<<static_cast<unsigned>(rows), kNormThreads, 0, stream>>>(xt, x_stride, wt, ot,
                                                                                    static_cast<int>(cols), eps);
  return status();
}

// ---------------------------------------------------------------------------------------------------------
// SiLU(gate) * up. HF: act(gate_proj(x)) * up_proj(x): silu rounds to the dtype, then the product does.
template <typename T, int V>
__global__ void silu_mul_kernel(const T* __restrict__ gu, T* __restrict__ out, std::int64_t rows, int half) {
  const int c = (blockIdx.x * blockDim.x + threadIdx.x) * V;  // rows on grid y: no 64-bit division per element
  if (c >= half) return;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float g[V], u[V];
    load<T, V>(gu + r * 2 * half + c, g);
    load<T, V>(gu + r * 2 * half + half + c, u);
#pragma unroll
    for (int k = 0; k < V; ++k) g[k] = round_to<T>(g[k] / (1.f + expf(-g[k]))) * u[k];
    store<T, V>(out + r * half + c, g);
  }
}

template <typename T>
int silu_mul_typed(const void* gu, void* out, std::int64_t rows, std::int64_t half, cudaStream_t stream) {
  if (rows == 0 || half == 0) return 0;
  constexpr int V = 16 / sizeof(T);
  const auto* g = static_cast<const T*>(gu);
  auto* o = static_cast<T*>(out);
  const unsigned grid_rows = static_cast<unsigned>(rows < 65535 ? rows : 65535);
  const int h = static_cast<int>(half);
  if (half % V == 0 && aligned16(gu) && aligned16(out))
    silu_mul_kernel<T, V><<<dim3(static_cast<unsigned>((half / V + 255) / 256), grid_rows), 256, 0, stream>>>(g, o, rows, h);
  else
    silu_mul_kernel<T, 1><<<dim3(static_cast<unsigned>((half + 255) / 256), grid_rows), 256, 0, stream>>>(g, o, rows, h);
  return status();
}

// ---------------------------------------------------------------------------------------------------------
// RoPE and the q/k/v split. One thread per (row, head, V consecutive i < d/2): rotates the pairs (i, i + d/2)
// as HF's x * cos + rotate_half(x) * sin, each product and the sum rounded to the dtype. v heads are copied.
// V = 16 bytes of elements where every address allows it (a 32k prefill moves 800 MB per layer through here;
// one element per thread made it several times slower than its memory traffic), else 1.
template <typename T, int V>
__global__ void rope_split_kernel(const T* __restrict__ qkv, std::int64_t qkv_stride, const T* __restrict__ cos,
                                  const T* __restrict__ sin, const std::int64_t* __restrict__ position,
                                  std::int64_t rows, int hq, int hkv, int d, HeadsOut q, HeadsOut k, HeadsOut v) {
  const int half = d / 2, heads = hq + 2 * hkv, per_head = half / V;
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;  // (head, i) within a row; rows on grid y
  if (idx >= heads * per_head) return;
  const int head = idx / per_head, i = (idx - head * per_head) * V;
  const HeadsOut& o = head < hq ? q : (head < hq + hkv ? k : v);
  const int h = head < hq ? head : (head < hq + hkv ? head - hq : head - hq - hkv);
  const std::int64_t slot = o.slot ? *o.slot * o.slot_stride : 0;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const T* src = qkv + r * qkv_stride + static_cast<std::int64_t>(head) * d;
    T* dst = static_cast<T*>(o.base) + r * o.row_stride + static_cast<std::int64_t>(h) * o.head_stride + slot;
    float x1[V], x2[V];
    load<T, V>(src + i, x1);
    load<T, V>(src + i + half, x2);
    if (head >= hq + hkv) {  // v: no rotation
      store<T, V>(dst + i, x1);
      store<T, V>(dst + i + half, x2);
      continue;
    }
    const std::int64_t trow = position ? *position : r;
    float c1[V], c2[V], s1[V], s2[V];
    load<T, V>(cos + trow * d + i, c1);
    load<T, V>(cos + trow * d + i + half, c2);
    load<T, V>(sin + trow * d + i, s1);
    load<T, V>(sin + trow * d + i + half, s2);
    float lo[V], hi[V];
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const float a = round_to<T>(x1[j] * c1[j]), b = round_to<T>(-x2[j] * s1[j]);
      const float e = round_to<T>(x2[j] * c2[j]), f = round_to<T>(x1[j] * s2[j]);
      lo[j] = a + b;
      hi[j] = e + f;
    }
    store<T, V>(dst + i, lo);
    store<T, V>(dst + i + half, hi);
  }
}

template <typename T, int V>
void launch_rope_split(const void* qkv, std::int64_t qkv_stride, const void* cos, const void* sin,
                       const std::int64_t* position, std::int64_t rows, int hq, int hkv, int d, HeadsOut q,
                       HeadsOut k, HeadsOut v, cudaStream_t stream) {
  const int per_row = (hq + 2 * hkv) * (d / 2 / V);
  const dim3 grid(static_cast<unsigned>((per_row + 255) / 256), static_cast<unsigned>(rows < 65535 ? rows : 65535));
  rope_split_kernel<T, V><<<grid, 256, 0, stream>>>(static_cast<const T*>(qkv), qkv_stride, static_cast<const T*>(cos),
                                                    static_cast<const T*>(sin), position, rows, hq, hkv, d, q, k, v);
}

template <typename T>
int rope_split_typed(const void* qkv, std::int64_t qkv_stride, const void* cos, const void* sin,
                     const std::int64_t* position, std::int64_t rows, int hq, int hkv, int d, HeadsOut q, HeadsOut k,
                     HeadsOut v, cudaStream_t stream) {
  if (rows == 0) return 0;
  constexpr int V = 16 / sizeof(T);
  auto fits = [&](const HeadsOut& o) {
    return aligned16(o.base) && o.row_stride % V == 0 && o.head_stride % V == 0 && o.slot_stride % V == 0;
  };
  const bool vec = (d / 2) % V == 0 && qkv_stride % V == 0 && aligned16(qkv) && aligned16(cos) && aligned16(sin) &&
                   fits(q) && fits(k) && fits(v);
  if (vec)
    launch_rope_split<T, V>(qkv, qkv_stride, cos, sin, position, rows, hq, hkv, d, q, k, v, stream);
  else
    launch_rope_split<T, 1>(qkv, qkv_stride, cos, sin, position, rows, hq, hkv, d, q, k, v, stream);
  return status();
}

// ---------------------------------------------------------------------------------------------------------
// Decode attention, split-K. A block takes `chunk` consecutive entries of one (sequence, KV head) and all G
// query heads of that KV head, in three phases:
//  1. scores: one thread per entry reads its whole key row (16-byte loads, all issued before any use, so a
//     warp has 32 rows in flight) against the G queries held in shared memory; scores go to shared memory;
//  2. per query head the chunk's max and sum of exponentials (one warp per head);
//  3. the probability-weighted sum of the values: 8 groups of 16 lanes, a group reading one value row
//     coalesced (16 lanes x D/16 elements), kRows rows in flight per group; the groups' sums are then added
//     in a fixed order (deterministic, no atomics).
// Decode reads every kept entry once per step, so this kernel is bound by how many bytes are in flight.
constexpr int kAttnThreads = 128;
constexpr int kGroups = kAttnThreads / 16;

// A row of N elements of T kept as raw 16-byte words (converted to float only where used: fewer registers).
template <typename T, int N>
struct RawRow {
  static constexpr int kWords = N * static_cast<int>(sizeof(T)) / 16;
  static constexpr int kPerWord = 16 / static_cast<int>(sizeof(T));
  static_assert(kWords * 16 == N * static_cast<int>(sizeof(T)), "rows must be whole 16-byte words");
  uint4 w[kWords];
  __device__ __forceinline__ void load(const T* p) {
#pragma unroll
    for (int i = 0; i < kWords; ++i) w[i] = reinterpret_cast<const uint4*>(p)[i];
  }
  __device__ __forceinline__ float at(int i) const {  // i a compile-time constant after unrolling
    return to_float(reinterpret_cast<const T*>(&w[i / kPerWord])[i % kPerWord]);
  }
};

template <typename T, int D, int G>
__global__ void __launch_bounds__(kAttnThreads) decode_attention_split(DecodeAttention a) {
  constexpr int V = D / 16;                                     // value elements per lane in phase 3
  constexpr int kPiece = D * sizeof(T) <= 256 ? D : 256 / sizeof(T);  // key elements loaded at once in phase 1
  constexpr int kRows = sizeof(T) == 2 ? 8 : 4;                 // value rows in flight per group in phase 3
  const int c = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int lane = threadIdx.x & 15, grp = threadIdx.x >> 4;
  const std::int64_t* meta = a.meta + static_cast<std::int64_t>(b) * a.meta_stride;
  const T* pk = reinterpret_cast<const T*>(meta[0]);
  const T* pv = reinterpret_cast<const T*>(meta[1]);
  const std::int64_t first = meta[2 + h];
  const int n_prompt = static_cast<int>(meta[3 + h] - first);
  const int n = n_prompt + static_cast<int>(*a.tail_count);
  const int start = c * a.chunk;
  const int count = min(a.chunk, n - start);  // entries of this block (may be <= 0)
  const std::int64_t tail_row0 = (static_cast<std::int64_t>(b) * a.hkv + h) * a.tail_capacity;
  const T* tk = static_cast<const T*>(a.tail_k) + tail_row0 * D;
  const T* tv = static_cast<const T*>(a.tail_v) + tail_row0 * D;
  const std::int64_t head0 = static_cast<std::int64_t>(b) * a.hq + static_cast<std::int64_t>(h) * G;

  extern __shared__ float smem[];
  float* qs = smem;                    // [G][D]
  float* scores = qs + G * D;          // [G][chunk]
  float* stats = scores + G * a.chunk; // [G][2]
  float* reduce = stats + 2 * G;       // [kGroups][D]

  if (count <= 0) {  // nothing here: an empty partial the combine skips
    if (threadIdx.x < G) {
      float* ml = a.partial_ml + ((head0 + threadIdx.x) * a.num_chunks + c) * 2;
      ml[0] = -FLT_MAX;
      ml[1] = 0.f;
    }
    return;
  }

  auto row_of = [&](const T* prompt, const T* tail, int e) {
    const int p = start + e;
    return p < n_prompt ? prompt + (first + p) * D : tail + static_cast<std::int64_t>(p - n_prompt) * D;
  };

  const T* q = static_cast<const T*>(a.q) + head0 * D;
  for (int i = threadIdx.x; i < G * D; i += kAttnThreads) qs[i] = to_float(q[i]);
  __syncthreads();

  // 1. scores[j][e] = scale * q_j . k_e, one entry per thread.
  for (int e = threadIdx.x; e < count; e += kAttnThreads) {
    const T* row = row_of(pk, tk, e);
    float s[G];
#pragma unroll
    for (int j = 0; j < G; ++j) s[j] = 0.f;
#pragma unroll
    for (int piece = 0; piece < D; piece += kPiece) {
      RawRow<T, kPiece> k;
      k.load(row + piece);
#pragma unroll
      for (int i = 0; i < kPiece; ++i) {
        const float x = k.at(i);
#pragma unroll
        for (int j = 0; j < G; ++j) s[j] += qs[j * D + piece + i] * x;
      }
    }
#pragma unroll
    for (int j = 0; j < G; ++j) scores[j * a.chunk + e] = s[j] * a.scale;
  }
  __syncthreads();

  // 2. per query head: the chunk's max, exp(s - max) in place, and their sum (one warp per head).
  const int warp = threadIdx.x >> 5, wl = threadIdx.x & 31;
  for (int j = warp; j < G; j += kAttnThreads / 32) {
    float m = -FLT_MAX;
    for (int e = wl; e < count; e += 32) m = fmaxf(m, scores[j * a.chunk + e]);
    m = warp_max(m);
    float l = 0.f;
    for (int e = wl; e < count; e += 32) {
      const float p = expf(scores[j * a.chunk + e] - m);
      scores[j * a.chunk + e] = p;
      l += p;
    }
    l = warp_sum(l);
    if (wl == 0) {
      stats[2 * j] = m;
      stats[2 * j + 1] = l;
    }
  }
  __syncthreads();

  // 3. acc_j = sum_e p_j[e] * v_e, each group over its entries, then the groups summed in order.
  float acc[G][V];
#pragma unroll
  for (int j = 0; j < G; ++j)
#pragma unroll
    for (int i = 0; i < V; ++i) acc[j][i] = 0.f;
  for (int base = 0; base < count; base += kRows * kGroups) {
    float vr[kRows][V];
#pragma unroll
    for (int u = 0; u < kRows; ++u) {
      const int e = base + u * kGroups + grp;
      if (e < count) load<T, V>(row_of(pv, tv, e) + lane * V, vr[u]);
    }
#pragma unroll
    for (int u = 0; u < kRows; ++u) {
      const int e = base + u * kGroups + grp;
      if (e >= count) break;
#pragma unroll
      for (int j = 0; j < G; ++j) {
        const float p = scores[j * a.chunk + e];
#pragma unroll
        for (int i = 0; i < V; ++i) acc[j][i] += p * vr[u][i];
      }
    }
  }
#pragma unroll
  for (int j = 0; j < G; ++j) {
#pragma unroll
    for (int i = 0; i < V; ++i) reduce[grp * D + lane * V + i] = acc[j][i];
    __syncthreads();
    for (int dim = threadIdx.x; dim < D; dim += kAttnThreads) {
      float sum = 0.f;
#pragma unroll
      for (int g2 = 0; g2 < kGroups; ++g2) sum += reduce[g2 * D + dim];
      a.partial_acc[((head0 + j) * a.num_chunks + c) * D + dim] = sum;
    }
    if (threadIdx.x == 0) {
      float* ml = a.partial_ml + ((head0 + j) * a.num_chunks + c) * 2;
      ml[0] = stats[2 * j];
      ml[1] = stats[2 * j + 1];
    }
    __syncthreads();
  }
}

// Combines a query head's chunk partials: out = sum_c acc_c e^(m_c - M) / sum_c l_c e^(m_c - M), M the largest
// m_c of a non-empty chunk. kSlices x D threads: the weights e^(m_c - M) go to shared memory once, then each
// slice sums every kSlices-th chunk (independent loads in flight), and the slices are added in order.
constexpr int kSlices = 4;

__device__ float block_reduce(float v, float* scratch, bool is_max) {
  v = is_max ? warp_max(v) : warp_sum(v);
  const int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
  if (l == 0) scratch[w] = v;
  __syncthreads();
  if (w == 0) {
    float x = l < nw ? scratch[l] : (is_max ? -FLT_MAX : 0.f);
    x = is_max ? warp_max(x) : warp_sum(x);
    if (l == 0) scratch[32] = x;
  }
  __syncthreads();
  return scratch[32];
}

template <typename T, int D>
__global__ void decode_attention_combine(DecodeAttention a) {
  const std::int64_t head = static_cast<std::int64_t>(blockIdx.y) * a.hq + blockIdx.x;
  const float* ml = a.partial_ml + head * a.num_chunks * 2;
  extern __shared__ float sm[];
  float* w = sm;                       // [num_chunks]
  float* part = w + a.num_chunks;      // [kSlices][D]
  float* scratch = part + kSlices * D; // [33]
  float m = -FLT_MAX;
  for (int c = threadIdx.x; c < a.num_chunks; c += blockDim.x)
    if (ml[2 * c + 1] > 0.f) m = fmaxf(m, ml[2 * c]);
  m = block_reduce(m, scratch, /*is_max=*/true);
  float l = 0.f;
  for (int c = threadIdx.x; c < a.num_chunks; c += blockDim.x) {
    const float wc = ml[2 * c + 1] > 0.f ? expf(ml[2 * c] - m) : 0.f;
    w[c] = wc;
    l += ml[2 * c + 1] * wc;
  }
  __syncthreads();  // the scratch of the max is read; w is complete
  l = block_reduce(l, scratch + 0, /*is_max=*/false);
  const int e = threadIdx.x % D, slice = threadIdx.x / D;
  const float* pa = a.partial_acc + head * a.num_chunks * D;
  float acc = 0.f;
#pragma unroll 4
  for (int c = slice; c < a.num_chunks; c += kSlices)
    if (w[c] != 0.f) acc += pa[c * D + e] * w[c];  // empty chunks left their acc unwritten
  part[slice * D + e] = acc;
  __syncthreads();
  if (slice == 0) {
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < kSlices; ++k) sum += part[k * D + e];
    static_cast<T*>(a.out)[head * D + e] = from_float<T>(sum / l);
  }
}

template <typename T, int D, int G>
int decode_attention_launch(const DecodeAttention& a, cudaStream_t stream) {
  const std::size_t smem = sizeof(float) * (static_cast<std::size_t>(G) * (D + a.chunk) + 2 * G + kGroups * D);
  const dim3 grid(static_cast<unsigned>(a.num_chunks), static_cast<unsigned>(a.hkv), static_cast<unsigned>(a.batch));
  decode_attention_split<T, D, G><<<grid, kAttnThreads, smem, stream>>>(a);
  const int err = status();
  if (err != 0) return err;
  const std::size_t combine_smem = sizeof(float) * (static_cast<std::size_t>(a.num_chunks) + kSlices * D + 33);
  if (combine_smem > 48 * 1024) return static_cast<int>(cudaErrorInvalidValue);
  decode_attention_combine<T, D><<<dim3(static_cast<unsigned>(a.hq), static_cast<unsigned>(a.batch)), kSlices * D,
                                   combine_smem, stream>>>(a);
  return status();
}

template <typename T, int D>
int decode_attention_group(const DecodeAttention& a, cudaStream_t stream) {
  switch (a.hq / a.hkv) {
    case 1: return decode_attention_launch<T, D, 1>(a, stream);
    case 2: return decode_attention_launch<T, D, 2>(a, stream);
    case 3: return decode_attention_launch<T, D, 3>(a, stream);
    case 4: return decode_attention_launch<T, D, 4>(a, stream);
    case 5: return decode_attention_launch<T, D, 5>(a, stream);
    case 6: return decode_attention_launch<T, D, 6>(a, stream);
    case 7: return decode_attention_launch<T, D, 7>(a, stream);
    case 8: return decode_attention_launch<T, D, 8>(a, stream);
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

template <typename T>
int decode_attention_typed(const DecodeAttention& a, cudaStream_t stream) {
  if (a.d == 32) return decode_attention_group<T, 32>(a, stream);
  if (a.d == 64) return decode_attention_group<T, 64>(a, stream);
  if (a.d == 128) return decode_attention_group<T, 128>(a, stream);
  return static_cast<int>(cudaErrorInvalidValue);
}

}  // namespace

int rms_norm(ElementType t, const void* x, std::int64_t x_stride, const void* weight, void* out, std::int64_t rows,
             std::int64_t cols, float eps, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (t) {
    case ElementType::kFloat32: return rms_norm_typed<float>(x, x_stride, weight, out, rows, cols, eps, s);
    case ElementType::kBFloat16: return rms_norm_typed<__nv_bfloat16>(x, x_stride, weight, out, rows, cols, eps, s);
    case ElementType::kFloat16: return rms_norm_typed<__half>(x, x_stride, weight, out, rows, cols, eps, s);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

int silu_mul(ElementType t, const void* gate_up, void* out, std::int64_t rows, std::int64_t half, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (t) {
    case ElementType::kFloat32: return silu_mul_typed<float>(gate_up, out, rows, half, s);
    case ElementType::kBFloat16: return silu_mul_typed<__nv_bfloat16>(gate_up, out, rows, half, s);
    case ElementType::kFloat16: return silu_mul_typed<__half>(gate_up, out, rows, half, s);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

int rope_split(ElementType t, const void* qkv, std::int64_t qkv_stride, const void* cos, const void* sin,
               const std::int64_t* position, std::int64_t rows, int hq, int hkv, int d, HeadsOut q, HeadsOut k,
               HeadsOut v, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (t) {
    case ElementType::kFloat32:
      return rope_split_typed<float>(qkv, qkv_stride, cos, sin, position, rows, hq, hkv, d, q, k, v, s);
    case ElementType::kBFloat16:
      return rope_split_typed<__nv_bfloat16>(qkv, qkv_stride, cos, sin, position, rows, hq, hkv, d, q, k, v, s);
    case ElementType::kFloat16:
      return rope_split_typed<__half>(qkv, qkv_stride, cos, sin, position, rows, hq, hkv, d, q, k, v, s);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

bool decode_attention_supports(int d, int group) {
  return (d == 32 || d == 64 || d == 128) && group >= 1 && group <= 8;
}

int decode_attention(ElementType t, const DecodeAttention& a, void* stream) {
  if (!decode_attention_supports(a.d, a.hkv > 0 ? a.hq / a.hkv : 0) || a.hq % a.hkv != 0 || a.chunk <= 0 ||
      a.chunk > kMaxDecodeChunk || a.num_chunks <= 0)
    return static_cast<int>(cudaErrorInvalidValue);
  auto s = static_cast<cudaStream_t>(stream);
  switch (t) {
    case ElementType::kFloat32: return decode_attention_typed<float>(a, s);
    case ElementType::kBFloat16: return decode_attention_typed<__nv_bfloat16>(a, s);
    case ElementType::kFloat16: return decode_attention_typed<__half>(a, s);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

const char* error_string(int code) { return cudaGetErrorString(static_cast<cudaError_t>(code)); }

int kernels_loadable(int device) {
  int previous = 0;
  if (cudaError_t e = cudaGetDevice(&previous); e != cudaSuccess) return static_cast<int>(e);
  if (cudaError_t e = cudaSetDevice(device); e != cudaSuccess) return static_cast<int>(e);
  // Asking for a kernel's attributes loads this module's image for the device, or fails when it has none.
  cudaFuncAttributes attributes{};
  const cudaError_t e = cudaFuncGetAttributes(&attributes, silu_mul_kernel<float, 4>);
  (void)cudaGetLastError();  // not a sticky error: clear it so that libtorch's next check does not see it
  cudaSetDevice(previous);
  return static_cast<int>(e);
}

int device_capability(int device) {
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return -1;
  }
  return major * 10 + minor;
}

int runtime_version() {
  int v = 0;
  return cudaRuntimeGetVersion(&v) == cudaSuccess ? v : 0;
}
int driver_version() {
  int v = 0;
  return cudaDriverGetVersion(&v) == cudaSuccess ? v : 0;
}
int compiled_runtime_version() { return CUDART_VERSION; }

}  // namespace kvbench::cuda
