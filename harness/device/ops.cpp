#include "harness/device/ops.h"

#include <algorithm>
#include <limits>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "harness/common/error.h"
#include "harness/common/log.h"
#include "kvbench/build_info.h"

#ifndef KVBENCH_WITH_CUDA_KERNELS
#define KVBENCH_WITH_CUDA_KERNELS 0
#endif
#ifndef KVBENCH_WITH_CUDA
#define KVBENCH_WITH_CUDA 0
#endif
#if KVBENCH_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif
#if KVBENCH_WITH_CUDA_KERNELS
#include "harness/device/cuda/kernels.h"
#endif

namespace kvbench::ops {

#if KVBENCH_WITH_CUDA_KERNELS
namespace {
cuda::ElementType element_type(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return cuda::ElementType::kFloat32;
    case at::kBFloat16: return cuda::ElementType::kBFloat16;
    case at::kHalf: return cuda::ElementType::kFloat16;
    default: fail("internal error: no CUDA kernel for dtype ", t.scalar_type());
  }
}

void* stream() { return at::cuda::getCurrentCUDAStream().stream(); }

void check_launch(int code, const char* kernel) {
  KV_CHECK(code == 0, "CUDA kernel ", kernel, " failed: ", cuda::error_string(code));
}

cuda::HeadsOut heads_out(const at::Tensor& t, std::int64_t row_stride, std::int64_t head_stride) {
  cuda::HeadsOut o;
  o.base = t.data_ptr();
  o.row_stride = row_stride;
  o.head_stride = head_stride;
  return o;
}
}  // namespace
#endif

bool cuda_kernels_built() { return KVBENCH_WITH_CUDA_KERNELS != 0; }

// KVBENCH_CUDA_KERNELS: unset, "on" or "auto" = use them where they run; "off" or "0" = never.
bool cuda_kernels_switched_off() {
  static const bool off = [] {
    const char* v = std::getenv("KVBENCH_CUDA_KERNELS");
    const std::string value = v ? v : "";
    if (value.empty() || value == "on" || value == "auto" || value == "1") return false;
    KV_CHECK(value == "off" || value == "0", "KVBENCH_CUDA_KERNELS='", value, "': use on, auto or off");
    if (cuda_kernels_built()) log::info("KVBENCH_CUDA_KERNELS=", value, ": kvbench's CUDA kernels are off; CUDA runs through libtorch");
    return true;
  }();
  return off;
}

namespace {

#if KVBENCH_WITH_CUDA_KERNELS
std::string capability_text(int capability) {
  return capability < 0 ? "unknown" : std::to_string(capability / 10) + "." + std::to_string(capability % 10);
}
#endif

std::string check_kernels_on(int index) {
  if (cuda_kernels_switched_off()) return "switched off by KVBENCH_CUDA_KERNELS";
#if KVBENCH_WITH_CUDA_KERNELS
  const int code = cuda::kernels_loadable(index);
  if (code == 0) return "";
  return std::string("no kernel image for this GPU (compute capability ") +
         capability_text(cuda::device_capability(index)) + "; this build has " + KVBENCH_BUILD_CUDA_ARCHS +
         "; CUDA says: " + cuda::error_string(code) + ")";
#else
  (void)index;
  return "this build has no CUDA kernels";
#endif
}

// One check per device, read lock-free afterwards: 0 unknown, 1 usable, 2 not.
constexpr int kMaxDevices = 64;
std::array<std::atomic<int>, kMaxDevices> g_usable{};
std::array<std::string, kMaxDevices> g_reason;
std::mutex g_check_mutex;

bool kernels_usable_on(int index) {
  if (index < 0 || index >= kMaxDevices) return false;
  const int known = g_usable[index].load(std::memory_order_acquire);
  if (known != 0) return known == 1;
  std::lock_guard<std::mutex> lock(g_check_mutex);
  if (g_usable[index].load(std::memory_order_relaxed) == 0) {
    g_reason[index] = check_kernels_on(index);
    if (!g_reason[index].empty() && !cuda_kernels_switched_off())
      log::warn("cuda:", index, ": kvbench's CUDA kernels cannot run here, ", g_reason[index],
                ": using the libtorch path (same results, slower). Rebuild with -DKVBENCH_CUDA_ARCHITECTURES=",
                "<this GPU's capability> to get them.");
    g_usable[index].store(g_reason[index].empty() ? 1 : 2, std::memory_order_release);
  }
  return g_usable[index].load(std::memory_order_relaxed) == 1;
}
}  // namespace

bool fused(const at::Tensor& x) {
  if (!cuda_kernels_built() || !x.is_cuda()) return false;
  const auto t = x.scalar_type();
  if (t != at::kFloat && t != at::kBFloat16 && t != at::kHalf) return false;
  return kernels_usable_on(x.get_device());
}

std::string kernels_unavailable_reason(int index) {
  if (!cuda_kernels_built()) return "this build has no CUDA kernels";
  return kernels_usable_on(index) ? "" : g_reason[index];
}

std::vector<GpuInfo> visible_gpus() {
  std::vector<GpuInfo> gpus;
#if KVBENCH_WITH_CUDA
  if (!at::hasCUDA()) return gpus;
  for (int i = 0; i < static_cast<int>(c10::cuda::device_count()); ++i) {
    const cudaDeviceProp* p = at::cuda::getDeviceProperties(i);
    GpuInfo g;
    g.index = i;
    g.name = p->name;
    g.capability = p->major * 10 + p->minor;
    const std::string why = kernels_unavailable_reason(i);
    g.kernels = why.empty() ? "run" : why;
    gpus.push_back(g);
  }
#endif
  return gpus;
}

std::string cuda_versions() {
#if KVBENCH_WITH_CUDA_KERNELS
  auto text = [](int v) { return v <= 0 ? std::string("?") : std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
  return "runtime " + text(cuda::runtime_version()) + ", driver " + text(cuda::driver_version()) +
         ", kernels compiled with CUDA " + text(cuda::compiled_runtime_version());
#else
  return "";
#endif
}

bool supports_bf16(at::Device device) {
  if (!device.is_cuda()) return true;
#if KVBENCH_WITH_CUDA
  const cudaDeviceProp* p = at::cuda::getDeviceProperties(device.has_index() ? device.index() : at::cuda::current_device());
  return p->major >= 8;
#else
  return false;
#endif
}

int compute_capability(at::Device device) {
  if (!device.is_cuda()) return -1;
#if KVBENCH_WITH_CUDA
  const cudaDeviceProp* p = at::cuda::getDeviceProperties(device.has_index() ? device.index() : at::cuda::current_device());
  return p->major * 10 + p->minor;
#else
  return -1;
#endif
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool unit_offset) {
#if KVBENCH_WITH_CUDA_KERNELS
  if (fused(x) && x.dim() == 2 && x.stride(1) == 1 && weight.is_contiguous() &&
      weight.scalar_type() == x.scalar_type()) {
    at::Tensor out = at::empty(x.sizes(), x.options());
    check_launch(cuda::rms_norm(element_type(x), x.data_ptr(), x.stride(0), weight.data_ptr(), out.data_ptr(),
                                x.size(0), x.size(1), static_cast<float>(eps), unit_offset, stream()),
                 "rms_norm");
    return out;
  }
#endif
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  if (unit_offset) return (normed * (1.0 + weight.to(at::kFloat))).to(x.scalar_type());  // Gemma
  return weight * normed.to(x.scalar_type());
}

at::Tensor silu_mul(const at::Tensor& gate_up) {
#if KVBENCH_WITH_CUDA_KERNELS
  if (fused(gate_up) && gate_up.dim() == 2 && gate_up.is_contiguous()) {
    const std::int64_t half = gate_up.size(1) / 2;
    at::Tensor out = at::empty({gate_up.size(0), half}, gate_up.options());
    check_launch(cuda::silu_mul(element_type(gate_up), gate_up.data_ptr(), out.data_ptr(), gate_up.size(0), half,
                                stream()),
                 "silu_mul");
    return out;
  }
#endif
  const auto gu = gate_up.chunk(2, /*dim=*/1);
  return at::silu(gu[0]) * gu[1];
}

at::Tensor gated_activation(const at::Tensor& gate_up, GateActivation activation) {
  if (activation == GateActivation::kSilu) return silu_mul(gate_up);
#if KVBENCH_WITH_CUDA_KERNELS
  if (fused(gate_up) && gate_up.dim() == 2 && gate_up.is_contiguous()) {
    const std::int64_t half = gate_up.size(1) / 2;
    at::Tensor out = at::empty({gate_up.size(0), half}, gate_up.options());
    check_launch(cuda::gelu_mul(element_type(gate_up), gate_up.data_ptr(), out.data_ptr(), gate_up.size(0), half,
                                activation == GateActivation::kGeluTanh, stream()),
                 "gelu_mul");
    return out;
  }
#endif
  const auto gu = gate_up.chunk(2, /*dim=*/1);
  return at::gelu(gu[0], activation == GateActivation::kGeluTanh ? "tanh" : "none") * gu[1];
}

at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const std::int64_t half = x.size(-1) / 2;
  const at::Tensor x1 = x.narrow(-1, 0, half);
  const at::Tensor x2 = x.narrow(-1, half, half);
  const at::Tensor rotated = at::cat({-x2, x1}, /*dim=*/-1);
  return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
}

void rope_split(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin, std::int64_t hq,
                std::int64_t hkv, const at::Tensor& q_out, const at::Tensor& k_out, const at::Tensor& v_out) {
  const std::int64_t n = qkv.size(0), d = q_out.size(2);
#if KVBENCH_WITH_CUDA_KERNELS
  const bool last_contiguous = q_out.stride(2) == 1 && k_out.stride(2) == 1 && v_out.stride(2) == 1;
  if (fused(qkv) && qkv.stride(1) == 1 && cos.is_contiguous() && sin.is_contiguous() && last_contiguous &&
      cos.scalar_type() == qkv.scalar_type() && q_out.scalar_type() == qkv.scalar_type()) {
    check_launch(cuda::rope_split(element_type(qkv), qkv.data_ptr(), qkv.stride(0), cos.data_ptr(), sin.data_ptr(),
                                  nullptr, n, static_cast<int>(hq), static_cast<int>(hkv), static_cast<int>(d),
                                  heads_out(q_out, q_out.stride(0), q_out.stride(1)),
                                  heads_out(k_out, k_out.stride(0), k_out.stride(1)),
                                  heads_out(v_out, v_out.stride(0), v_out.stride(1)), stream()),
                 "rope_split");
    return;
  }
#endif
  const auto parts = qkv.split_with_sizes({hq * d, hkv * d, hkv * d}, /*dim=*/1);
  q_out.copy_(rotate(parts[0].view({n, hq, d}), cos, sin));
  k_out.copy_(rotate(parts[1].view({n, hkv, d}), cos, sin));
  v_out.copy_(parts[2].view({n, hkv, d}));
}

void rope_split_at(const at::Tensor& qkv, const at::Tensor& cos_table, const at::Tensor& sin_table,
                   const at::Tensor& position, std::int64_t hq, std::int64_t hkv, const at::Tensor& q_out,
                   const at::Tensor& k_cache, const at::Tensor& v_cache, const at::Tensor& slot) {
  const std::int64_t B = qkv.size(0), d = q_out.size(2);
  KV_CHECK(position.numel() == B && slot.numel() == B && position.is_contiguous() && slot.is_contiguous(),
           "internal error: rope_split_at needs a position and a slot per sequence");
#if KVBENCH_WITH_CUDA_KERNELS
  if (fused(qkv) && qkv.stride(1) == 1 && cos_table.is_contiguous() && sin_table.is_contiguous() &&
      q_out.is_contiguous() && k_cache.is_contiguous() && v_cache.is_contiguous()) {
    const std::int64_t cap = k_cache.size(2);
    auto cache_out = [&](const at::Tensor& c) {
      cuda::HeadsOut o = heads_out(c, hkv * cap * d, cap * d);
      o.slot_stride = d;
      o.slot = slot.data_ptr<std::int64_t>();
      return o;
    };
    check_launch(cuda::rope_split(element_type(qkv), qkv.data_ptr(), qkv.stride(0), cos_table.data_ptr(),
                                  sin_table.data_ptr(), position.data_ptr<std::int64_t>(), B, static_cast<int>(hq),
                                  static_cast<int>(hkv), static_cast<int>(d), heads_out(q_out, hq * d, d),
                                  cache_out(k_cache), cache_out(v_cache), stream()),
                 "rope_split_at");
    return;
  }
#endif
  const at::Tensor cos = cos_table.index_select(0, position);  // [B, d]: each sequence at its own position
  const at::Tensor sin = sin_table.index_select(0, position);
  const auto parts = qkv.split_with_sizes({hq * d, hkv * d, hkv * d}, /*dim=*/1);
  q_out.copy_(rotate(parts[0].view({B, hq, d}), cos, sin));
  // Sequence b's entry goes to its own slot[b].
  const at::Tensor where = slot.view({B, 1, 1, 1}).expand({B, hkv, 1, d});
  k_cache.scatter_(2, where, rotate(parts[1].view({B, hkv, d}), cos, sin).unsqueeze(2));
  v_cache.scatter_(2, where, parts[2].view({B, hkv, d}).unsqueeze(2));
}

DecodeSplit DecodeSplit::plan(std::int64_t max_entries, std::int64_t batch, std::int64_t hkv,
                              std::int64_t multiprocessors) {
  // Blocks of 256 entries read each row once with enough rows in flight; smaller ones only to fill the
  // device (a budget of 128 would otherwise keep a few multiprocessors busy while the rest idle).
  DecodeSplit s;
  auto blocks = [&](std::int64_t chunk) { return (max_entries + chunk - 1) / chunk * batch * hkv; };
  s.chunk = 256;
  while (s.chunk > 32 && blocks(s.chunk) < 2 * multiprocessors) s.chunk /= 2;
  s.num_chunks = std::max<std::int64_t>(1, (max_entries + s.chunk - 1) / s.chunk);
  return s;
}

bool decode_attention_supported(std::int64_t head_dim, std::int64_t group) {
#if KVBENCH_WITH_CUDA_KERNELS
  return cuda::decode_attention_supports(static_cast<int>(head_dim), static_cast<int>(group));
#else
  (void)head_dim;
  (void)group;
  return false;
#endif
}

namespace {
// The CPU reference: each (sequence, KV head) gathers its entries and runs float softmax attention.
at::Tensor decode_attention_reference(const at::Tensor& q, const RaggedBatch& batch, double scale,
                                      const DecodeMask& mask) {
  const std::int64_t B = q.size(0), Hq = q.size(1), d = q.size(2), Hkv = batch.tail_k.size(1), g = Hq / Hkv;
  const std::int64_t H0 = kRaggedMetaHeader;
  const at::Tensor meta = batch.meta.to(at::kCPU).contiguous();
  const at::Tensor counts = batch.tail_count.to(at::kCPU).contiguous();
  const at::Tensor positions = mask.window > 0 ? mask.position.to(at::kCPU).contiguous() : at::Tensor();
  at::Tensor out = at::empty({B, Hq * d}, q.options());
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t count = counts.data_ptr<std::int64_t>()[b];
    const std::int64_t position = positions.defined() ? positions.data_ptr<std::int64_t>()[b] : 0;
    const std::int64_t* m = meta[b].data_ptr<std::int64_t>();
    const std::int64_t N = m[H0 + Hkv];
    const at::Tensor pk = at::from_blob(reinterpret_cast<void*>(m[0]), {N, d}, q.options());
    const at::Tensor pv = at::from_blob(reinterpret_cast<void*>(m[1]), {N, d}, q.options());
    const at::Tensor pp = at::from_blob(reinterpret_cast<void*>(m[2]), {N}, at::TensorOptions().dtype(at::kLong));
    for (std::int64_t h = 0; h < Hkv; ++h) {
      const std::int64_t first = m[H0 + h], n = m[H0 + 1 + h] - first;
      const at::Tensor keys = at::cat({pk.narrow(0, first, n), batch.tail_k[b][h].narrow(0, 0, count)}).to(at::kFloat);
      const at::Tensor values = at::cat({pv.narrow(0, first, n), batch.tail_v[b][h].narrow(0, 0, count)}).to(at::kFloat);
      const at::Tensor qh = q[b].narrow(0, h * g, g).to(at::kFloat);  // [g, d]
      at::Tensor scores = at::matmul(qh, keys.t()) * scale;
      if (mask.softcap > 0) scores = at::tanh(scores / mask.softcap) * mask.softcap;
      if (mask.window > 0) {
        // Decode entries are consecutive, the last one the query's own position.
        const at::Tensor tail_pos = at::arange(position - count + 1, position + 1, at::kLong);
        const at::Tensor pos = at::cat({pp.narrow(0, first, n), tail_pos});
        scores = scores.masked_fill(pos.le(position - mask.window).unsqueeze(0), -std::numeric_limits<float>::infinity());
      }
      out[b].narrow(0, h * g * d, g * d).copy_(at::matmul(at::softmax(scores, -1), values).reshape({g * d}));
    }
  }
  return out;
}
}  // namespace

at::Tensor decode_attention(const at::Tensor& q, const RaggedBatch& batch, double scale, const DecodeSplit& split,
                            const DecodeMask& mask) {
  const std::int64_t B = q.size(0), Hq = q.size(1), Hkv = batch.tail_k.size(1);
  KV_CHECK(q.is_contiguous() && batch.meta.size(0) == B && batch.meta.size(1) == kRaggedMetaHeader + 1 + Hkv &&
               Hq % Hkv == 0 && batch.tail_count.numel() == B && batch.tail_count.is_contiguous() &&
               (mask.window == 0 || (mask.position.defined() && mask.position.numel() == B)),
           "internal error: decode_attention got inconsistent shapes");
#if KVBENCH_WITH_CUDA_KERNELS
  if (fused(q)) {
    const std::int64_t d = q.size(2);
    KV_CHECK(decode_attention_supported(d, Hq / Hkv), "internal error: no decode attention kernel for head dim ", d,
             " and ", Hq / Hkv, " query heads per KV head");
    KV_CHECK(batch.tail_k.is_contiguous() && batch.tail_v.is_contiguous() && batch.meta.is_cuda() &&
                 batch.tail_count.is_cuda() && (mask.window == 0 || mask.position.is_cuda()),
             "internal error: decode_attention needs contiguous device tensors");
    const auto fopts = q.options().dtype(at::kFloat);
    at::Tensor acc = at::empty({B, Hq, split.num_chunks, d}, fopts);
    at::Tensor ml = at::empty({B, Hq, split.num_chunks, 2}, fopts);
    at::Tensor out = at::empty({B, Hq * d}, q.options());
    cuda::DecodeAttention a;
    a.q = q.data_ptr();
    a.meta = batch.meta.data_ptr<std::int64_t>();
    a.meta_stride = static_cast<int>(batch.meta.size(1));
    a.tail_k = batch.tail_k.data_ptr();
    a.tail_v = batch.tail_v.data_ptr();
    a.tail_capacity = batch.tail_k.size(2);
    a.tail_count = batch.tail_count.data_ptr<std::int64_t>();
    a.batch = static_cast<int>(B);
    a.hq = static_cast<int>(Hq);
    a.hkv = static_cast<int>(Hkv);
    a.d = static_cast<int>(d);
    a.scale = static_cast<float>(scale);
    a.softcap = static_cast<float>(mask.softcap);
    a.window = mask.window;
    a.position = mask.window > 0 ? mask.position.data_ptr<std::int64_t>() : nullptr;
    a.chunk = static_cast<int>(split.chunk);
    a.num_chunks = static_cast<int>(split.num_chunks);
    a.partial_acc = acc.data_ptr<float>();
    a.partial_ml = ml.data_ptr<float>();
    a.out = out.data_ptr();
    check_launch(cuda::decode_attention(element_type(q), a, stream()), "decode_attention");
    return out;
  }
#endif
  (void)split;
  return decode_attention_reference(q, batch, scale, mask);
}

bool prefill_attention_supported(const at::Tensor& q, std::int64_t head_dim) {
#if KVBENCH_WITH_CUDA_KERNELS
  return fused(q) && q.scalar_type() != at::kFloat && cuda::prefill_attention_supports(static_cast<int>(head_dim));
#else
  (void)q;
  (void)head_dim;
  return false;
#endif
}

at::Tensor prefill_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                             double softcap, std::int64_t window) {
  const std::int64_t Hq = q.size(0), T = q.size(1), d = q.size(2), Hkv = k.size(0);
  KV_CHECK(prefill_attention_supported(q, d), "internal error: no prefill attention kernel for these tensors");
#if KVBENCH_WITH_CUDA_KERNELS
  const auto aligned = [](const at::Tensor& t) {
    return t.stride(2) == 1 && t.stride(0) % 8 == 0 && t.stride(1) % 8 == 0 &&
           reinterpret_cast<std::uintptr_t>(t.data_ptr()) % 16 == 0;
  };
  KV_CHECK(k.sizes() == v.sizes() && k.size(1) == T && k.size(2) == d && Hq % Hkv == 0 && aligned(q) && aligned(k) &&
               aligned(v) && k.scalar_type() == q.scalar_type() && v.scalar_type() == q.scalar_type(),
           "internal error: prefill_attention got inconsistent tensors");
  at::Tensor out = at::empty({T, Hq * d}, q.options());
  cuda::PrefillAttention a;
  a.q = q.data_ptr();
  a.k = k.data_ptr();
  a.v = v.data_ptr();
  a.q_row_stride = q.stride(1);
  a.q_head_stride = q.stride(0);
  a.k_row_stride = k.stride(1);
  a.k_head_stride = k.stride(0);
  a.v_row_stride = v.stride(1);
  a.v_head_stride = v.stride(0);
  a.out = out.data_ptr();
  a.tokens = T;
  a.hq = static_cast<int>(Hq);
  a.hkv = static_cast<int>(Hkv);
  a.d = static_cast<int>(d);
  a.scale = static_cast<float>(scale);
  a.softcap = static_cast<float>(softcap);
  a.window = window;
  check_launch(cuda::prefill_attention(element_type(q), a, stream()), "prefill_attention");
  return out;
#else
  (void)v, (void)scale, (void)softcap, (void)window, (void)Hq, (void)Hkv, (void)T;
  return {};
#endif
}

std::int64_t multiprocessor_count(at::Device device) {
#if KVBENCH_WITH_CUDA
  if (device.is_cuda())
    return at::cuda::getDeviceProperties(device.has_index() ? device.index() : at::cuda::current_device())
        ->multiProcessorCount;
#endif
  (void)device;
  return 1;
}

std::string device_name(at::Device device) {
#if KVBENCH_WITH_CUDA
  if (device.is_cuda())
    return at::cuda::getDeviceProperties(device.has_index() ? device.index() : at::cuda::current_device())->name;
#endif
  return device.str();
}

}  // namespace kvbench::ops
