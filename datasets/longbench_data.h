#pragma once
// The LongBench data folder: unpacking the official archive into it (`kvbench data`), its manifest of
// checksums, and the checks a run makes of it. THUDM/LongBench publishes one archive, `data.zip` on the
// Hugging Face hub (dataset THUDM/LongBench), holding data/<subset>.jsonl for the 21 LongBench subsets and
// data/<subset>_e.jsonl for the 13 LongBench-E ones. No libtorch.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvbench {

/// The file names (without .jsonl) of a data set: "longbench" (the 21 subsets) or "longbench-e" (the 13 _e
/// files); throws naming the known sets otherwise.
std::vector<std::string> data_set_files(const std::string& set);

/// One file written by install_longbench.
struct InstalledFile {
  std::string name;    ///< "qasper" or "qasper_e"
  std::string sha256;  ///< of the bytes written
  std::size_t rows = 0;
  std::uint64_t bytes = 0;
};

struct InstallResult {
  std::string dir;             ///< absolute
  std::string archive_sha256;  ///< of the archive file
  std::vector<InstalledFile> files;
};

/// Unpacks `set`'s files of the archive into `dir` as <name>.jsonl. Refuses (kvbench::Error, nothing written)
/// an archive that lacks any of the set's files (all are listed), a file whose row count is not the published
/// one (published_rows()), a row that does not parse as a LongBench row or names
/// another subset in its "dataset" field, and a repeated _id; errors name the archive entry and the line.
/// Then writes <dir>/manifest.json: each file's sha256, rows and bytes, and the archive it came from (entries
/// of the other set, from an earlier call, are kept).
InstallResult install_longbench(const std::string& set, const std::string& archive, const std::string& dir);

/// Throws naming `dir` and every missing file when `dir` holds some but not all of `subsets` (as
/// <subset>.jsonl), or none of them; says how to unpack LongBench there.
void check_data_dir(const std::string& dir, const std::vector<std::string>& subsets);

/// What a run's report records of the data it read: {"dir", "manifest": true when <dir>/manifest.json exists,
/// "files": {"<subset>.jsonl": sha256}} (hashed now). A file whose hash differs from the manifest's is logged as
/// a warning: it changed since `kvbench data` unpacked it.
nlohmann::json data_provenance(const std::string& dir, const std::vector<std::string>& subsets);

}  // namespace kvbench
