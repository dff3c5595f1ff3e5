// A small program over every torch-free library (common, tokenizer, datasets, metrics, report). Built with
// -DKVBENCH_TORCH_FREE_ONLY=ON -DKVBENCH_CXX11_ABI=0 by tests/abi_test.sh: that it links shows no ABI-sensitive
// symbol (std::string, std::list in a signature) is left undefined between kvbench's own libraries and the C++
// libraries they use; running it shows the calls work.
//   kvbench_abi_probe TOKENIZER_DIR REPORT_JSON
#include <iostream>
#include <string>

#include "datasets/prompt.h"
#include "datasets/subset.h"
#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/common/log.h"
#include "harness/report/report_file.h"
#include "harness/report/table.h"
#include "harness/tokenizer/tokenizer.h"
#include "metrics/metric.h"

int main(int argc, char** argv) {
  using namespace kvbench;
  if (argc != 3) {
    std::cerr << "usage: kvbench_abi_probe TOKENIZER_DIR REPORT_JSON\n";
    return 2;
  }
  try {
    log::init("warn");                                           // common (+ header-only spdlog/fmt)
    const auto tokenizer = load_tokenizer(argv[1]);              // tokenizer (and the SentencePiece bridge)
    const SubsetSpec& subset = find_subset("multi_news");        // datasets
    Sample sample;
    sample.id = "probe";
    sample.context = "The quick brown fox jumps over the lazy dog. It was seen again the next day.";
    sample.answers = {"a fox jumped"};
    PromptOptions options;
    options.max_length = 16;
    const BuiltPrompt prompt = build_prompt(subset, sample, *tokenizer, options);
    const double f1 = metrics::qa_f1_score("fox jumped high", "a fox jumped", {});  // metrics
    const report::ReportFile run = report::load_report(argv[2]);             // report
    const report::Table table = report::build_table({run});
    std::cout << "tokens " << prompt.ids.size() << " truncated " << prompt.truncated << "\n"
              << "qa_f1 " << f1 << "\n"
              << report::render_table(table, report::parse_table_format("md")) << std::flush;
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
