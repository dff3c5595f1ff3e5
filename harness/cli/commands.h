#pragma once
// Each subcommand lives in its own cmd_*.cpp: it declares its options on the root app and returns the
// function that runs it. main() parses, sets up logging, then runs the one subcommand that was given.

#include <CLI/CLI.hpp>

#include <functional>

namespace kvbench::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<void()> run;
};

Command add_model_info_command(CLI::App& app);
Command add_generate_command(CLI::App& app);
Command add_make_tiny_command(CLI::App& app);
Command add_run_command(CLI::App& app);
Command add_tokenize_command(CLI::App& app);
Command add_prompts_command(CLI::App& app);
Command add_coverage_command(CLI::App& app);
Command add_score_command(CLI::App& app);
Command add_plot_command(CLI::App& app);
Command add_table_command(CLI::App& app);
Command add_check_command(CLI::App& app);
Command add_compare_command(CLI::App& app);
Command add_analyze_command(CLI::App& app);
Command add_synth_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_merge_command(CLI::App& app);
Command add_slurm_command(CLI::App& app);
Command add_data_command(CLI::App& app);

}  // namespace kvbench::cli
