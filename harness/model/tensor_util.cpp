#include "harness/model/tensor_util.h"

#include "harness/common/error.h"

namespace kvbench {

at::ScalarType to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::F64: return at::kDouble;
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::I64: return at::kLong;
    case DType::I32: return at::kInt;
    case DType::I16: return at::kShort;
    case DType::I8: return at::kChar;
    case DType::U8: return at::kByte;
    case DType::BOOL: return at::kBool;
    default: break;
  }
  fail("safetensors dtype ", dtype_name(dtype), " has no libtorch equivalent here");
}

at::ScalarType parse_compute_dtype(const std::string& name) {
  if (name == "f32" || name == "float32") return at::kFloat;
  if (name == "bf16" || name == "bfloat16") return at::kBFloat16;
  if (name == "f16" || name == "float16") return at::kHalf;
  fail("unknown dtype '", name, "' (use f32, bf16 or f16)");
}

std::string short_dtype_name(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "f32";
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "f16";
    case at::kDouble: return "f64";
    default: return c10::toString(type);
  }
}

bool cuda_usable() { return at::hasCUDA(); }

at::Device parse_device(const std::string& name) {
  if (name == "cpu") return at::Device(at::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    KV_CHECK(cuda_usable(), "device '", name,
             "' requested but CUDA is not usable in this build (kvbench --version says why; build with a CUDA libtorch)");
    try {
      return at::Device(name);
    } catch (const std::exception&) {
      fail("invalid device '", name, "'");
    }
  }
  fail("unknown device '", name, "' (use cpu, cuda or cuda:N)");
}

std::vector<std::int64_t> to_int_vector(const at::Tensor& t) {
  const at::Tensor host = t.to(at::kCPU, at::kLong).contiguous();
  const auto* p = host.data_ptr<std::int64_t>();
  return std::vector<std::int64_t>(p, p + host.numel());
}

}  // namespace kvbench
