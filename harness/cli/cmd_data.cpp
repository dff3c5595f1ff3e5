// kvbench data: installs a data set from its official archive into a folder a config's data_dir can name.
//   kvbench data longbench   --from data.zip --dir DIR   the 21 LongBench subsets (data/<subset>.jsonl)
//   kvbench data longbench-e --from data.zip --dir DIR   the 13 LongBench-E files (data/<subset>_e.jsonl)
// Both sets come in THUDM/LongBench's one data.zip; they may share DIR (manifest.json lists both). See
// datasets/longbench_data.h for the checks.
#include <iostream>
#include <memory>

#include "datasets/longbench_data.h"
#include "harness/cli/commands.h"
#include "harness/common/paths.h"

namespace kvbench::cli {

Command add_data_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "unpack and verify a data set's official archive (LongBench, LongBench-E)");
  struct State {
    std::string set, archive, dir;
  };
  auto st = std::make_shared<State>();
  cmd->add_option("set", st->set, "longbench (the 21 subsets) or longbench-e (the 13 LongBench-E files)")
      ->required()
      ->check(CLI::IsMember({"longbench", "longbench-e"}));
  cmd->add_option("--from", st->archive, "the archive: THUDM/LongBench's data.zip (Hugging Face hub)")->required();
  cmd->add_option("--dir", st->dir, "the folder to unpack into (created; manifest.json written there)")->required();
  return {cmd, [st] {
            const InstallResult r = install_longbench(st->set, st->archive, st->dir);
            std::size_t rows = 0;
            for (const auto& f : r.files) {
              std::cout << f.name << ".jsonl  " << f.rows << " rows  sha256 " << f.sha256 << "\n";
              rows += f.rows;
            }
            std::cout << "unpacked " << r.files.size() << " files (" << rows << " rows, every one parsed; counts as "
                      << "published) from " << st->archive << " (sha256 " << r.archive_sha256 << ")\n"
                      << "wrote " << paths::join(r.dir, "manifest.json") << "\n"
                      << "in a config's \"datasets\":\n"
                      << "  \"data_dir\": " << nlohmann::json(r.dir).dump() << "\n";
          }};
}

}  // namespace kvbench::cli
