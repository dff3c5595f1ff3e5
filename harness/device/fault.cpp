#include "harness/device/fault.h"

#include <c10/util/Exception.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "harness/common/error.h"

namespace kvbench {
namespace {

struct Fault {
  std::string site;
  long pass = 0;  // 1-based
};

struct FaultTable {
  std::vector<Fault> faults;
  std::map<std::string, long> passes;
  std::mutex mutex;
};

// Parses KVBENCH_FAULT once; a malformed value is an error (a test that injects nothing must not pass).
FaultTable* table() {
  static FaultTable* t = []() -> FaultTable* {
    const char* env = std::getenv("KVBENCH_FAULT");
    if (env == nullptr || *env == '\0') return nullptr;
    auto* parsed = new FaultTable;
    const std::string spec = env;
    for (std::size_t start = 0; start <= spec.size();) {
      std::size_t end = spec.find(',', start);
      if (end == std::string::npos) end = spec.size();
      const std::string item = spec.substr(start, end - start);
      start = end + 1;
      const auto at = item.find('@'), hash = item.find('#');
      KV_CHECK(item.rfind("oom@", 0) == 0 && hash != std::string::npos && hash > at + 1,
               "KVBENCH_FAULT: '", item, "' is not of the form oom@SITE#N");
      char* rest = nullptr;
      const long pass = std::strtol(item.c_str() + hash + 1, &rest, 10);
      KV_CHECK(pass > 0 && *rest == '\0', "KVBENCH_FAULT: '", item, "': N must be a positive integer");
      const std::string site = item.substr(at + 1, hash - at - 1);
      KV_CHECK(site == "prefill" || site == "policy" || site == "decode", "KVBENCH_FAULT: '", item,
               "': unknown site '", site, "' (known: prefill, policy, decode)");
      parsed->faults.push_back({site, pass});
    }
    return parsed;
  }();
  return t;
}

}  // namespace

void check_fault_setting() { table(); }

void fault_point(const char* site) {
  FaultTable* t = table();
  if (t == nullptr) return;
  std::lock_guard<std::mutex> lock(t->mutex);
  const long pass = ++t->passes[site];
  for (const Fault& f : t->faults)
    if (f.site == site && f.pass == pass)
      TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate 2.00 GiB (injected by KVBENCH_FAULT at ",
                       site, " #", pass, ")");
}

}  // namespace kvbench
