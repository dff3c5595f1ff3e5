// Causal prefill attention with a soft-cap and a window, one pass over the scores (flash-attention style: tiles
// of 64 queries x 64 keys, an online softmax, tensor-core products). libtorch's fused kernels have no soft-cap,
// so soft-capped layers (Gemma 2) had no fused path. sm_80 and later (mma.sync m16n8k16, ldmatrix, cp.async).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "harness/device/cuda/kernels.h"

namespace kvbench::cuda {
namespace {

constexpr int kBlockM = 64;   // queries per CTA (16 per warp)
constexpr int kBlockN = 64;   // keys per tile
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;

__device__ __forceinline__ std::uint32_t smem_addr(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, zero-filled when !valid.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(bytes));
}
// tanh and 2^x on the special-function unit (relative error about 2^-11: below bf16's rounding of P).
__device__ __forceinline__ float fast_tanh(float x) {
  float y;
  asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }

__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

template <typename T>
struct Mma;
template <>
struct Mma<__nv_bfloat16> {
  // c += a (16x16, row) * b (16x8, col), float accumulators.
  __device__ __forceinline__ static void run(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                             std::uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  __device__ __forceinline__ static std::uint32_t pack(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const std::uint32_t*>(&v);
  }
};
template <>
struct Mma<__half> {
  __device__ __forceinline__ static void run(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                             std::uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  __device__ __forceinline__ static std::uint32_t pack(float lo, float hi) {
    const __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const std::uint32_t*>(&v);
  }
};

// A tile of `rows` x D elements in shared memory, 16-byte chunk c of row r stored at chunk c ^ (r % 8) so that
// ldmatrix's eight row reads at one column fall in eight different bank groups.
template <typename T, int D>
__device__ __forceinline__ T* chunk_at(T* tile, int row, int chunk) {
  return tile + row * D + ((chunk ^ (row & 7)) << 3);
}

// Loads rows [row0, row0 + kRows) of a [rows_total, heads, D]-strided tensor's head into a swizzled tile (rows
// past rows_total as zeros).
template <typename T, int D, int kRows>
__device__ __forceinline__ void load_tile(T* tile, const T* base, std::int64_t row_stride, std::int64_t row0,
                                          std::int64_t rows_total) {
  constexpr int kChunks = D / 8;
  for (int i = threadIdx.x; i < kRows * kChunks; i += kThreads) {
    const int r = i / kChunks, c = i % kChunks;
    const std::int64_t row = row0 + r;
    const bool valid = row < rows_total;
    const T* src = base + (valid ? row : 0) * row_stride + c * 8;
    cp_async16(chunk_at<T, D>(tile, r, c), src, valid);
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) prefill_attention_kernel(PrefillAttention a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* q_tile = reinterpret_cast<T*>(smem_raw);
  T* k_tile = q_tile + kBlockM * D;
  T* v_tile = k_tile + kBlockN * D;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;  // the mma fragments' row group and column pair
  const int head = blockIdx.y, kv_head = head / (a.hq / a.hkv);
  const std::int64_t T_len = a.tokens;
  // Largest query tiles first: the causal work grows with the tile index.
  const std::int64_t m0 = (static_cast<std::int64_t>(gridDim.x) - 1 - blockIdx.x) * kBlockM;

  const T* q_base = static_cast<const T*>(a.q) + head * a.q_head_stride;
  const T* k_base = static_cast<const T*>(a.k) + kv_head * a.k_head_stride;
  const T* v_base = static_cast<const T*>(a.v) + kv_head * a.v_head_stride;

  // Key tiles this query tile reaches: keys <= its last query, and > its first query - window.
  const std::int64_t last_key = (m0 + kBlockM < T_len ? m0 + kBlockM : T_len) - 1;
  const std::int64_t first_key = a.window > 0 && m0 - a.window + 1 > 0 ? m0 - a.window + 1 : 0;
  const std::int64_t n_begin = first_key / kBlockN, n_end = last_key / kBlockN + 1;

  load_tile<T, D, kBlockM>(q_tile, q_base, a.q_row_stride, m0, T_len);
  load_tile<T, D, kBlockN>(k_tile, k_base, a.k_row_stride, n_begin * kBlockN, T_len);
  cp_async_commit();

  constexpr float kLog2e = 1.4426950408889634f;
  const bool capped = a.softcap > 0.0f;
  // Scores in log2 units: capped: cap * tanh(s * scale / cap) * log2e; else s * scale * log2e.
  const float pre = capped ? a.scale / a.softcap : a.scale * kLog2e;
  const float post = capped ? a.softcap * kLog2e : 1.0f;

  float o[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};
  const std::int64_t q_row[2] = {m0 + warp * 16 + g, m0 + warp * 16 + g + 8};

  for (std::int64_t nt = n_begin; nt < n_end; ++nt) {
    const std::int64_t n0 = nt * kBlockN;
    cp_async_wait_all();
    __syncthreads();  // K (and Q) in shared memory
    load_tile<T, D, kBlockN>(v_tile, v_base, a.v_row_stride, n0, T_len);
    cp_async_commit();

    // S = Q K^T for this warp's 16 rows and the tile's 64 keys: 8 n-tiles of 8 keys.
    float s[8][4];
#pragma unroll
    for (int j = 0; j < 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      std::uint32_t qa[4];
      {
        const int r = warp * 16 + (lane % 16), c = kk * 2 + lane / 16;
        ldmatrix_x4(qa, chunk_at<T, D>(q_tile, r, c));
      }
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) {  // two n-tiles (16 keys) per ldmatrix
        std::uint32_t kb[4];
        const int r = jj * 16 + (lane / 16) * 8 + (lane % 8), c = kk * 2 + (lane / 8) % 2;
        ldmatrix_x4(kb, chunk_at<T, D>(k_tile, r, c));
        Mma<T>::run(s[2 * jj], qa, kb[0], kb[1]);
        Mma<T>::run(s[2 * jj + 1], qa, kb[2], kb[3]);
      }
    }

    // Scale, soft-cap, mask; then the online softmax of rows g and g + 8.
    const bool edge = n0 + kBlockN - 1 > m0 || n0 + kBlockN > T_len ||
                      (a.window > 0 && n0 <= m0 + kBlockM - 1 - a.window);
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = s[j][e] * pre;
        if (capped) x = fast_tanh(x) * post;
        if (edge) {
          const std::int64_t key = n0 + j * 8 + 2 * t + (e & 1), query = q_row[e >> 1];
          if (key > query || key >= T_len || (a.window > 0 && key <= query - a.window)) x = -INFINITY;
        }
        s[j][e] = x;
        tile_max[e >> 1] = fmaxf(tile_max[e >> 1], x);
      }
    }
    float correction[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
      const float new_max = fmaxf(row_max[r], tile_max[r]);
      // A row with nothing visible yet keeps max -inf: subtract 0 so exp2 gives 0, not NaN.
      const float base = new_max == -INFINITY ? 0.0f : new_max;
      correction[r] = fast_exp2(row_max[r] - base);
      row_max[r] = new_max;
      row_sum[r] *= correction[r];
      tile_max[r] = base;
    }
    float tile_sum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int j = 0; j < 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float p = fast_exp2(s[j][e] - tile_max[e >> 1]);
        s[j][e] = p;
        tile_sum[e >> 1] += p;
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) row_sum[r] += tile_sum[r];  // each thread's share; summed across the quad at the end
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      o[j][0] *= correction[0];
      o[j][1] *= correction[0];
      o[j][2] *= correction[1];
      o[j][3] *= correction[1];
    }

    cp_async_wait_all();
    __syncthreads();  // V in shared memory; every warp is done with K
    if (nt + 1 < n_end) {
      load_tile<T, D, kBlockN>(k_tile, k_base, a.k_row_stride, n0 + kBlockN, T_len);
      cp_async_commit();
    }

    // O += P V: P's accumulator layout is the A operand's, two n-tiles per 16-key step.
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk) {
      const std::uint32_t pa[4] = {Mma<T>::pack(s[2 * kk][0], s[2 * kk][1]), Mma<T>::pack(s[2 * kk][2], s[2 * kk][3]),
                                   Mma<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                   Mma<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dd = 0; dd < D / 16; ++dd) {  // two 8-wide d tiles per ldmatrix
        std::uint32_t vb[4];
        const int r = kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8, c = dd * 2 + lane / 16;
        ldmatrix_x4_trans(vb, chunk_at<T, D>(v_tile, r, c));
        Mma<T>::run(o[2 * dd], pa, vb[0], vb[1]);
        Mma<T>::run(o[2 * dd + 1], pa, vb[2], vb[3]);
      }
    }
    __syncthreads();  // every warp is done with V before the next tile's load
  }

  // Normalize and write rows g and g + 8: out [tokens, hq, D].
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
    row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
  }
  T* out = static_cast<T*>(a.out);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (q_row[r] >= T_len) continue;
    const float inv = row_sum[r] > 0.0f ? 1.0f / row_sum[r] : 0.0f;
    T* dst = out + (q_row[r] * a.hq + head) * static_cast<std::int64_t>(D);
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      const std::uint32_t packed = Mma<T>::pack(o[j][2 * r] * inv, o[j][2 * r + 1] * inv);
      *reinterpret_cast<std::uint32_t*>(dst + j * 8 + 2 * t) = packed;
    }
  }
}

template <typename T, int D>
int launch(const PrefillAttention& a, cudaStream_t stream) {
  const int smem = (kBlockM + 2 * kBlockN) * D * static_cast<int>(sizeof(T));
  static const cudaError_t attr = cudaFuncSetAttribute(prefill_attention_kernel<T, D>,
                                                       cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (attr != cudaSuccess) return static_cast<int>(attr);
  const dim3 grid(static_cast<unsigned>((a.tokens + kBlockM - 1) / kBlockM), static_cast<unsigned>(a.hq));
  prefill_attention_kernel<T, D><<<grid, kThreads, smem, stream>>>(a);
  return static_cast<int>(cudaGetLastError());
}

template <typename T>
int launch_typed(const PrefillAttention& a, cudaStream_t stream) {
  switch (a.d) {
    case 64: return launch<T, 64>(a, stream);
    case 128: return launch<T, 128>(a, stream);
    case 256: return launch<T, 256>(a, stream);
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

}  // namespace

bool prefill_attention_supports(int d) { return d == 64 || d == 128 || d == 256; }

int prefill_attention(ElementType t, const PrefillAttention& a, void* stream) {
  if (!prefill_attention_supports(a.d) || a.hkv <= 0 || a.hq % a.hkv != 0) return static_cast<int>(cudaErrorInvalidValue);
  if (a.tokens <= 0) return 0;
  const auto s = static_cast<cudaStream_t>(stream);
  switch (t) {
    case ElementType::kBFloat16: return launch_typed<__nv_bfloat16>(a, s);
    case ElementType::kFloat16: return launch_typed<__half>(a, s);
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

}  // namespace kvbench::cuda
