#include "datasets/longbench_data.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "datasets/loader.h"
#include "datasets/subset.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/log.h"
#include "harness/common/paths.h"
#include "harness/common/sha256.h"
#include "harness/common/system.h"
#include "harness/common/zip_archive.h"
#include "kvbench/version.h"

namespace kvbench {
namespace {

// The names indented on lines of their own, six a line (an error line is cut at a few hundred characters).
std::string name_lines(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) out += (i % 6 == 0 ? "\n  " : ", ") + names[i];
  return out;
}

// The folder of the archive that holds LongBench files: "data/" in the official archive. Entries elsewhere
// (a macOS __MACOSX/ copy, a README) are ignored.
std::string data_folder(const ZipArchive& zip) {
  std::set<std::string> folders;
  for (const auto& e : zip.entries()) {
    const std::string base = paths::filename(e.name);
    if (e.name.rfind("__MACOSX/", 0) == 0 || base.size() <= 6 || base.compare(base.size() - 6, 6, ".jsonl") != 0) continue;
    if (published_rows(base.substr(0, base.size() - 6)) > 0) folders.insert(e.name.substr(0, e.name.size() - base.size()));
  }
  KV_CHECK(!folders.empty(), "'", zip.path(), "' holds no LongBench file (expected data/<subset>.jsonl, as in "
           "THUDM/LongBench's data.zip on the Hugging Face hub)");
  KV_CHECK(folders.size() == 1, "'", zip.path(), "' holds LongBench files in several folders (keep one copy):",
           name_lines({folders.begin(), folders.end()}));
  return *folders.begin();
}

// Every row of one archive entry: parses as a LongBench row, belongs to `name`, has an _id of its own. The
// first bad row is reported by finish(), after the whole entry went through the archive's CRC check: a damaged
// download is named as such, not as the garbage row it inflates to.
class RowChecker {
 public:
  RowChecker(std::string where, std::string name) : where_(std::move(where)), name_(std::move(name)) {}
  void feed(const char* data, std::size_t size) {
    for (std::size_t i = 0; i < size && error_.empty(); ++i) {
      if (data[i] != '\n') {
        line_ += data[i];
        // An inflated entry can be any size: a line is refused at kvbench's limit, not held whole.
        if (line_.size() > kMaxLineBytes) {
          error_ = detail::concat(where_, ":", lines_ + 1, ": a line longer than ", kMaxLineBytes >> 20,
                                  " MiB (kvbench's limit for one row)");
          line_.clear();
        }
        continue;
      }
      checked_row(line_);
      line_.clear();
    }
  }
  std::size_t finish() {
    if (error_.empty() && !line_.empty()) checked_row(line_);  // a last line without its newline (a truncated file fails to parse here)
    KV_CHECK(error_.empty(), error_);
    return rows_;
  }

 private:
  void checked_row(const std::string& text) {
    try {
      row(text);
    } catch (const Error& e) {
      error_ = e.what();
    }
  }
  void row(const std::string& text) {
    ++lines_;
    if (text.empty() || text == "\r") return;
    const Sample s = parse_sample(text, where_, lines_);
    KV_CHECK(s.dataset.empty() || s.dataset == name_ || s.dataset == base_subset(name_), where_, ":", lines_,
             ": a row of '", s.dataset, "' in the file of ", name_);
    KV_CHECK(ids_.insert(s.id).second, where_, ":", lines_, ": _id '", s.id, "' appears twice");
    ++rows_;
  }
  std::string where_, name_, line_, error_;
  std::size_t lines_ = 0, rows_ = 0;
  std::set<std::string> ids_;
};

nlohmann::json read_manifest(const std::string& path) {
  if (!paths::exists(path)) return nlohmann::json::object();
  try {
    nlohmann::json m = read_own_json_file(path);  // kvbench's own file, which this command rewrites
    const auto object_or_absent = [&](const char* key) { return !m.contains(key) || m[key].is_object(); };
    if (m.is_object() && object_or_absent("files") && object_or_absent("sets")) return m;
  } catch (const Error&) {
  }
  log::warn(path, " is not a manifest kvbench can read; writing a new one");
  return nlohmann::json::object();
}

}  // namespace

std::vector<std::string> data_set_files(const std::string& set) {
  std::vector<std::string> names;
  for (const auto& s : longbench_subsets()) {
    if (set == "longbench") names.push_back(s.name);
    if (set == "longbench-e" && s.has_e) names.push_back(s.name + "_e");
  }
  KV_CHECK(!names.empty(), "unknown data set '", set, "' (longbench: the 21 LongBench subsets; longbench-e: the 13 "
           "LongBench-E files)");
  return names;
}

InstallResult install_longbench(const std::string& set, const std::string& archive, const std::string& dir) {
  const std::vector<std::string> names = data_set_files(set);
  const ZipArchive zip(archive);
  const std::string folder = data_folder(zip);
  std::set<std::string> present;
  for (const auto& e : zip.entries()) present.insert(e.name);
  std::vector<std::string> missing;
  for (const auto& name : names)
    if (!present.count(folder + name + ".jsonl")) missing.push_back(folder + name + ".jsonl");
  KV_CHECK(missing.empty(), "'", archive, "' is not the complete ", set == "longbench" ? "LongBench" : "LongBench-E",
           " (", names.size(), " files): it lacks ", missing.size(), " of them:", name_lines(missing));

  InstallResult result;
  result.dir = paths::absolute(dir);
  paths::create_directories(result.dir);
  std::vector<std::unique_ptr<AtomicWriter>> written;  // committed only when every file passed
  for (const auto& name : names) {
    const std::string entry = folder + name + ".jsonl";
    auto out = std::make_unique<AtomicWriter>(paths::join(result.dir, name + ".jsonl"));
    RowChecker rows(archive + ":" + entry, name);
    Sha256 hash;
    InstalledFile file{name, "", 0, 0};
    zip.read(entry, [&](const char* data, std::size_t size) {
      rows.feed(data, size);
      hash.update(data, size);
      out->write(data, size);
      file.bytes += size;
    });
    file.rows = rows.finish();
    const int expected = published_rows(name);
    KV_CHECK(static_cast<int>(file.rows) == expected, archive, ":", entry, " has ", file.rows, " rows; the published ",
             name, " has ", expected, " (a truncated or altered file)");
    file.sha256 = hash.hex();
    result.files.push_back(file);
    written.push_back(std::move(out));
  }
  for (auto& f : written) f->commit();

  result.archive_sha256 = sha256_file(archive);
  const std::string manifest_path = paths::join(result.dir, "manifest.json");
  nlohmann::json manifest = read_manifest(manifest_path);
  manifest["kvbench_version"] = KVBENCH_VERSION;
  manifest["sets"][set] = {{"archive", paths::absolute(archive)}, {"archive_sha256", result.archive_sha256},
                           {"unpacked", system::utc_now()}};
  for (const auto& f : result.files)
    manifest["files"][f.name + ".jsonl"] = {{"sha256", f.sha256}, {"rows", f.rows}, {"bytes", f.bytes}, {"set", set}};
  write_file_atomic(manifest_path, manifest.dump(2) + "\n");
  return result;
}

void check_data_dir(const std::string& dir, const std::vector<std::string>& subsets) {
  std::vector<std::string> missing;
  for (const auto& s : subsets)
    if (!paths::is_regular_file(paths::join(dir, s + ".jsonl"))) missing.push_back(s);
  if (missing.empty()) return;
  const bool e_only = std::all_of(missing.begin(), missing.end(), [](const std::string& s) { return is_longbench_e(s); });
  const std::string held = missing.size() == subsets.size() ? "none" : std::to_string(subsets.size() - missing.size());
  fail("data_dir '", dir, "' holds ", held, " of the ", subsets.size(), " subsets this run reads; missing:",
       name_lines(missing), "\n(unpack LongBench there: kvbench data longbench", e_only ? "-e" : "", " --from data.zip --dir ",
       dir, ")");
}

nlohmann::json data_provenance(const std::string& dir, const std::vector<std::string>& subsets) {
  const std::string manifest_path = paths::join(dir, "manifest.json");
  const nlohmann::json manifest = read_manifest(manifest_path);
  nlohmann::json files = nlohmann::json::object();
  for (const auto& s : subsets) {
    const std::string name = s + ".jsonl", path = paths::join(dir, name);
    if (!paths::is_regular_file(path)) continue;
    const std::string hash = sha256_file(path);
    files[name] = hash;
    const nlohmann::json* entry = manifest.contains("files") && manifest["files"].contains(name) ? &manifest["files"][name] : nullptr;
    const bool recorded = entry != nullptr && entry->is_object() && entry->contains("sha256") && (*entry)["sha256"].is_string();
    if (entry != nullptr && (!recorded || (*entry)["sha256"].get<std::string>() != hash))
      log::warn(path, " changed since it was unpacked: its sha256 is ", hash, ", ", manifest_path, " says ",
                recorded ? (*entry)["sha256"].get<std::string>() : std::string("nothing"));
  }
  return {{"dir", paths::absolute(dir)}, {"manifest", paths::exists(manifest_path)}, {"files", files}};
}

}  // namespace kvbench
