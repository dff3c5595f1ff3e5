#include "harness/runner/shard.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <limits>
#include <memory>
#include <map>
#include <numeric>
#include <set>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/folder_lock.h"
#include "harness/common/json_util.h"
#include "harness/common/log.h"
#include "harness/common/paths.h"
#include "harness/common/system.h"
#include "harness/runner/runner.h"
#include "kvbench/version.h"

namespace kvbench {

Shard Shard::parse(const std::string& text, const std::string& what) {
  const auto slash = text.find('/');
  auto number = [&](const std::string& s) -> std::size_t {
    KV_CHECK(!s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }),
             what, " must be I/N with 0 <= I < N (e.g. 0/4), got '", text, "'");
    return static_cast<std::size_t>(std::stoul(s));
  };
  KV_CHECK(slash != std::string::npos, what, " must be I/N with 0 <= I < N (e.g. 0/4), got '", text, "'");
  Shard s;
  s.index = number(text.substr(0, slash));
  s.count = number(text.substr(slash + 1));
  KV_CHECK(s.count >= 1 && s.index < s.count, what, " must be I/N with 0 <= I < N (e.g. 0/4), got '", text, "'");
  return s;
}

std::string Shard::name() const { return std::to_string(index) + "-of-" + std::to_string(count); }

std::string shard_dir(const std::string& output_dir, const Shard& shard) {
  return paths::join(paths::join(output_dir, "shards"), shard.name());
}

namespace {
// The prompt text a sample feeds the model, as a measure of its cost (no tokenizer needed).
std::size_t task_cost(const Task& t) { return t.spec == nullptr ? 1 : t.sample.context.size() + t.sample.input.size(); }
}  // namespace

RunPlan shard_plan(const RunPlan& plan, const Shard& shard, const std::string& output_dir) {
  std::vector<std::size_t> order(plan.tasks.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return task_cost(plan.tasks[a]) > task_cost(plan.tasks[b]); });
  std::vector<std::size_t> load(shard.count, 0), owner(plan.tasks.size(), 0);
  for (std::size_t i : order) {
    const std::size_t least = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[i] = least;
    load[least] += task_cost(plan.tasks[i]);
  }
  RunPlan out;
  out.variants = plan.variants;
  out.subsets = plan.subsets;
  out.skipped_rows = plan.skipped_rows;
  out.layout = RunLayout(output_dir);
  for (std::size_t i = 0; i < plan.tasks.size(); ++i)
    if (owner[i] == shard.index) out.tasks.push_back(plan.tasks[i]);
  return out;
}

nlohmann::json shard_manifest(const RunPlan& plan, const Shard& shard) {
  nlohmann::json tasks = nlohmann::json::array();
  for (const Task& t : plan.tasks) tasks.push_back({{"index", t.index}, {"subset", t.subset}, {"_id", t.sample.id}});
  return {{"shard", shard.index}, {"count", shard.count}, {"tasks", tasks}};
}

namespace {

struct ShardFolder {
  std::string dir;
  nlohmann::json input, shard, manifest;
};

// The input config with what may differ between shards removed (each machine names its own device).
std::string comparable_config(nlohmann::json j) {
  j.erase("output_dir");
  if (j.contains("model") && j["model"].is_object()) j["model"].erase("device");
  return j.dump();
}

bool same_folder(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// shard.json as run --shard writes it: {"shard": I, "count": N, "tasks": [{"index", "subset", "_id"}, ...]}.
void check_shard_json(const nlohmann::json& j, const std::string& path) {
  const JsonFields f(j, path);
  const std::int64_t count = f.get_int_in("count", 1, 1'000'000);
  f.get_int_in("shard", 0, count - 1);
  KV_CHECK(f.raw("tasks").is_array(), path, ": 'tasks' must be a list, got ", json_type_name(f.raw("tasks")));
  for (std::size_t i = 0; i < f.raw("tasks").size(); ++i) {
    const JsonFields t(f.raw("tasks")[i], path + ": tasks[" + std::to_string(i) + "]");
    t.get_int_in("index", 0, std::numeric_limits<std::int64_t>::max());
    paths::check_component(t.get_string("subset"), path + ": tasks[" + std::to_string(i) + "].subset");
    t.get_string("_id");
  }
}

std::vector<ShardFolder> read_shards(const std::vector<std::string>& dirs) {
  KV_CHECK(!dirs.empty(), "merge needs the shard folders of one run");
  std::vector<ShardFolder> shards;
  for (const auto& dir : dirs) {
    check_directory(dir, "the shard folder");
    KV_CHECK(paths::exists(paths::join(dir, "shard.json")), dir,
             " is not a shard folder (no shard.json): shards are written by kvbench run --shard I/N");
    ShardFolder s{dir, read_json_file(paths::join(dir, kShardInputConfig)), read_json_file(paths::join(dir, "shard.json")),
                  read_manifest(paths::join(dir, "manifest.json"))};
    check_shard_json(s.shard, paths::join(dir, "shard.json"));
    KV_CHECK(s.input.is_object(), paths::join(dir, kShardInputConfig), ": expected a JSON object");
    const auto& sessions = s.manifest.value("sessions", nlohmann::json::array());
    KV_CHECK(!sessions.empty() && sessions.back().contains("end"), dir, " did not finish (shard ",
             s.shard.value("shard", 0), "): resume it with kvbench run --config ... --shard ", s.shard.value("shard", 0),
             "/", s.shard.value("count", 0), " --resume, then merge");
    shards.push_back(std::move(s));
  }
  const std::size_t count = shards[0].shard.at("count").get<std::size_t>();
  std::set<std::size_t> seen;
  for (const auto& s : shards) {
    KV_CHECK(comparable_config(s.input) == comparable_config(shards[0].input), s.dir,
             " was run from another config than ", shards[0].dir, " (only model.device and output_dir may differ)");
    KV_CHECK(s.shard.at("count").get<std::size_t>() == count, s.dir, " is shard ", s.shard.at("shard"), " of ",
             s.shard.at("count"), ", ", shards[0].dir, " one of ", count);
    KV_CHECK(seen.insert(s.shard.at("shard").get<std::size_t>()).second, s.dir, " repeats shard ", s.shard.at("shard"));
  }
  std::string missing;
  for (std::size_t i = 0; i < count; ++i)
    if (!seen.count(i)) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
  KV_CHECK(missing.empty(), "merge needs all ", count, " shards of the run; missing shard(s) ", missing);
  return shards;
}

// Plan index of every (subset, _id); a sample two shards both claim is an error.
std::map<std::string, std::size_t> sample_order(const std::vector<ShardFolder>& shards) {
  std::map<std::string, std::string> owner;
  std::map<std::string, std::size_t> order;
  for (const auto& s : shards)
    for (const auto& t : s.shard.at("tasks")) {
      const std::string key = t.at("subset").get<std::string>() + "\n" + t.at("_id").get<std::string>();
      const auto [it, fresh] = owner.emplace(key, s.dir);
      KV_CHECK(fresh, "sample ", t.at("_id").get<std::string>(), " of ", t.at("subset").get<std::string>(),
               " is in two shards: ", it->second, " and ", s.dir);
      order[key] = t.at("index").get<std::size_t>();
    }
  return order;
}

// The complete lines of a JSONL file, verbatim with their '\n' (a torn last line is left out).
std::vector<std::string> complete_lines(const std::string& path) {
  std::vector<std::string> lines;
  if (!paths::exists(path)) return lines;
  LineReader in(path);
  for (std::string line; in.next(line);)
    if (in.last_line_complete()) lines.push_back(line + "\n");
  return lines;
}

// One merged file: every shard's rows of it, in plan order.
std::size_t merge_file(const std::vector<ShardFolder>& shards, const std::map<std::string, std::size_t>& order,
                       const std::string& subset, const std::string& relative, const std::string& out) {
  std::vector<std::pair<std::size_t, std::string>> rows;
  std::set<std::size_t> seen;
  for (const auto& s : shards) {
    const std::string path = paths::join(s.dir, relative);
    for (const std::string& line : complete_lines(path)) {
      const auto row = parse_json(line, path);
      KV_CHECK(row.is_object() && row.contains("_id") && row["_id"].is_string(), path, ": a row without an _id");
      const auto it = order.find(subset + "\n" + row["_id"].get<std::string>());
      KV_CHECK(it != order.end(), path, ": row of sample ", row["_id"], ", which no shard's plan holds");
      KV_CHECK(seen.insert(it->second).second, path, ": sample ", row["_id"], " has two rows across the shards");
      rows.emplace_back(it->second, line);
    }
  }
  if (rows.empty()) {  // none: a file of that name from an earlier merge into this folder is out of date
    if (paths::is_regular_file(paths::join(out, relative))) paths::remove_file(paths::join(out, relative));
    return 0;
  }
  std::sort(rows.begin(), rows.end());
  std::string content;
  for (const auto& [index, line] : rows) content += line;
  write_file_atomic(paths::join(out, relative), content);
  return rows.size();
}

}  // namespace

MergeResult merge_shards(const std::vector<std::string>& shard_dirs, const std::string& output_dir,
                         const std::string& command, const FolderLock* held) {
  // Every shard locked while it is read (a shard still being written, or resumed meanwhile, is refused).
  std::vector<std::unique_ptr<FolderLock>> shard_locks;
  for (const auto& dir : shard_dirs) {
    check_directory(dir, "the shard folder");
    const bool repeated = std::any_of(shard_locks.begin(), shard_locks.end(),
                                      [&](const auto& held) { return same_folder(held->dir(), dir); });
    if (!repeated) shard_locks.push_back(std::make_unique<FolderLock>(dir, command));  // a repeat is refused below
  }
  const std::vector<ShardFolder> shards = read_shards(shard_dirs);
  const std::map<std::string, std::size_t> order = sample_order(shards);
  RunConfig rc = parse_run_config(shards[0].input, paths::join(shards[0].dir, kShardInputConfig));
  MergeResult result;
  result.output_dir = output_dir.empty() ? rc.output_dir : output_dir;
  rc.output_dir = result.output_dir;
  for (const auto& dir : shard_dirs)
    KV_CHECK(!same_folder(dir, result.output_dir), "cannot merge into '", result.output_dir, "': it is one of the "
             "shards being merged (choose another --out)");
  std::unique_ptr<FolderLock> own_lock;
  if (held == nullptr) own_lock = std::make_unique<FolderLock>(result.output_dir, command);
  const RunLayout layout(result.output_dir);
  if (paths::exists(paths::join(result.output_dir, "predictions"))) {
    const bool merged = paths::exists(layout.manifest()) && read_manifest(layout.manifest()).contains("merged_from");
    KV_CHECK(merged, "'", result.output_dir, "' holds a run that is not a merge of shards; merge into another --out");
  }
  remove_stale_temporaries(result.output_dir, 3);
  // Only the files of this run's variants and subsets are written (or, when no shard has rows for one, removed):
  // anything else in the folder is the user's and stays.

  const RunLayout relative("");
  const std::vector<std::string> subsets = rc.uses_datasets() ? rc.subsets : std::vector<std::string>{"prompt"};
  for (const auto& v : rc.variants)
    for (const auto& subset : subsets) {
      result.rows += merge_file(shards, order, subset, relative.predictions(v.name, subset), result.output_dir);
      merge_file(shards, order, subset, relative.timing(v.name, subset), result.output_dir);
      result.error_rows += merge_file(shards, order, subset, relative.errors(v.name, subset), result.output_dir);
    }
  nlohmann::json resolved = read_json_file(paths::join(shards[0].dir, "config.resolved.json"));
  KV_CHECK(resolved.is_object(), shards[0].dir, "/config.resolved.json: expected a JSON object");
  resolved["output_dir"] = result.output_dir;
  write_json_file(layout.resolved_config(), resolved);
  nlohmann::json sessions = nlohmann::json::array(), from = nlohmann::json::array();
  for (const auto& s : shards) {
    from.push_back(s.dir);
    for (auto session : s.manifest.at("sessions")) {
      session["shard"] = s.shard.at("shard");
      sessions.push_back(session);
    }
  }
  nlohmann::json manifest = shards[0].manifest;
  manifest["sessions"] = sessions;
  manifest["merged_from"] = from;
  manifest["merged_at"] = system::utc_now();
  manifest["merged_by"] = std::string("kvbench ") + KVBENCH_VERSION;
  write_json_file(layout.manifest(), manifest);
  result.report = build_report(rc);
  write_json_file(layout.report(), result.report);
  result.shards = shards.size();
  result.samples = order.size();
  return result;
}

}  // namespace kvbench
