// kvbench: evaluation harness for KV-cache eviction. This file wires the subcommands and turns every error
// into one clear message and a non-zero exit code.
#include <CLI/CLI.hpp>
#include <ATen/ATen.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <c10/core/InferenceMode.h>

#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/common/log.h"
#include "harness/device/ops.h"
#include "kvbench/build_info.h"
#include "kvbench/version.h"

namespace {

// What a bug report needs: versions, the ABI, the CUDA kernels built and whether they run on each GPU.
std::string version_text() {
  std::ostringstream out;
  out << "kvbench " << KVBENCH_VERSION << " (git " << KVBENCH_GIT_COMMIT << ")\n"
      << "libtorch " << TORCH_VERSION << ", C++ ABI _GLIBCXX_USE_CXX11_ABI=" << KVBENCH_BUILD_CXX11_ABI << "\n";
  if (kvbench::ops::cuda_kernels_built()) {
    out << "CUDA kernels: built for " << KVBENCH_BUILD_CUDA_ARCHS << " (from " << KVBENCH_BUILD_CUDA_ARCHS_FROM << ")\n";
  } else {
    out << "CUDA kernels: not built\n";
  }
  if (at::hasCUDA()) {
    const std::string versions = kvbench::ops::cuda_versions();
    out << "CUDA: usable" << (versions.empty() ? "" : " (" + versions + ")") << "\n";
    for (const auto& gpu : kvbench::ops::visible_gpus())
      out << "GPU " << gpu.index << ": " << gpu.name << ", compute capability " << gpu.capability / 10 << "."
          << gpu.capability % 10 << ", kvbench kernels: " << gpu.kernels << "\n";
  } else {
    out << "CUDA: " << (at::detail::getCUDAHooks().hasCUDA() ? "not usable (no device visible)"
                                                           : "not usable (this libtorch build has no CUDA, or no device)")
        << "\n";
  }
  std::string text = out.str();
  text.pop_back();
  return text;
}

// Keeps freed memory in the process. A prefill allocates and frees tensors of tens of MB over and over; with
// glibc's defaults each one is a fresh mmap that the kernel zero-fills page by page and unmaps again. On the
// 2-core VM that churn cost more system time than the compute's user time: the quickstart took 5m45s
// without these settings and 3m20s with them (same machine, same table); peak RSS 523 MB against 549 MB.
void keep_freed_memory() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 1 << 30);  // blocks under 1 GiB come from the heap (glibc 2.36 accepts it)
  mallopt(M_TRIM_THRESHOLD, 1 << 30);  // never hand the heap's top back to the kernel below 1 GiB free
  mallopt(M_TOP_PAD, 256 << 20);       // grow the heap in steps of 256 MB
#endif
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory();
  // kvbench never trains: no autograd bookkeeping on any tensor op of this process.
  c10::InferenceMode inference_mode;
  CLI::App app{"kvbench: evaluation harness and experiment runner for KV-cache eviction"};
  app.require_subcommand(0, 1);
  app.fallthrough();  // root options such as --log-level may also follow the subcommand
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->capture_default_str();
  app.add_flag_callback("--version", [] {
    std::cout << version_text() << std::endl;
    throw CLI::Success();
  }, "print the versions, the C++ ABI, the CUDA kernels built and each GPU (for bug reports)");

  const std::vector<kvbench::cli::Command> commands = {
      kvbench::cli::add_run_command(app),
      kvbench::cli::add_generate_command(app),
      kvbench::cli::add_model_info_command(app),
      kvbench::cli::add_tokenize_command(app),
      kvbench::cli::add_prompts_command(app),
      kvbench::cli::add_coverage_command(app),
      kvbench::cli::add_score_command(app),
      kvbench::cli::add_plot_command(app),
      kvbench::cli::add_table_command(app),
      kvbench::cli::add_check_command(app),
      kvbench::cli::add_compare_command(app),
      kvbench::cli::add_analyze_command(app),
      kvbench::cli::add_make_tiny_command(app),
      kvbench::cli::add_synth_command(app),
      kvbench::cli::add_bench_command(app),
      kvbench::cli::add_merge_command(app),
      kvbench::cli::add_slurm_command(app),
      kvbench::cli::add_data_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    kvbench::log::init(log_level);
    kvbench::ops::cuda_kernels_switched_off();  // a bad KVBENCH_CUDA_KERNELS value stops here, on any device
    for (const auto& command : commands) {
      if (command.app->parsed()) {
        command.run();
        return 0;
      }
    }
    std::cout << app.help() << std::endl;
    return 2;
  } catch (const kvbench::Interrupted& e) {
    std::cerr << e.what() << std::endl;
    std::fflush(nullptr);
    std::_Exit(128 + e.signal());
  } catch (const std::exception& e) {
    kvbench::log::debug("full error text: ", e.what());
    std::cerr << "error: " << kvbench::short_error_message(e) << std::endl;
    // Leave at once: under low memory a pool thread or a static destructor may block or fail, and every file
    // kvbench writes is already synced or written atomically.
    std::fflush(nullptr);
    std::_Exit(1);
  }
  return 0;
}
