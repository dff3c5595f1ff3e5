#include "harness/common/error.h"
#include "harness/model/family.h"

// Registration: one X(name) per family; families/<name>.cpp defines `const ModelFamily& <name>_family()`
// (gemma3.cpp defines both Gemma 3 architectures).
#define KVBENCH_MODEL_FAMILIES(X) \
  X(llama)                        \
  X(mistral)                      \
  X(qwen2)                        \
  X(qwen3)                        \
  X(qwen3_moe)                    \
  X(mixtral)                      \
  X(phi3)                         \
  X(gemma2)                       \
  X(gemma3)                       \
  X(gemma3_mm)

namespace kvbench {

#define KVBENCH_DECLARE_FAMILY(name) const ModelFamily& name##_family();
KVBENCH_MODEL_FAMILIES(KVBENCH_DECLARE_FAMILY)
#undef KVBENCH_DECLARE_FAMILY

namespace {
const std::vector<const ModelFamily*>& registry() {
#define KVBENCH_LIST_FAMILY(name) &name##_family(),
  static const std::vector<const ModelFamily*> kFamilies = {KVBENCH_MODEL_FAMILIES(KVBENCH_LIST_FAMILY)};
#undef KVBENCH_LIST_FAMILY
  return kFamilies;
}
}  // namespace

const ModelFamily* find_model_family(const std::string& architecture) {
  for (const ModelFamily* f : registry())
    if (architecture == f->architecture) return f;
  return nullptr;
}

const ModelFamily* find_model_family_by_name(const std::string& name) {
  for (const ModelFamily* f : registry())
    if (name == f->name) return f;
  return nullptr;
}

std::vector<std::string> family_names() {
  std::vector<std::string> names;
  for (const ModelFamily* f : registry()) names.emplace_back(f->name);
  return names;
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> names;
  for (const ModelFamily* f : registry()) names.emplace_back(f->architecture);
  return names;
}

}  // namespace kvbench
