// The shipped configs and README's "Reproduce a paper table" (issue 30), in a copy of the repository's layout:
// configs/ as shipped, models/ with the demo model and small stand-ins of the paper checkpoints (random weights
// of the right family, with the real tokenizer), data/longbench unpacked by `kvbench data` from an archive made
// of ../shared's real subsets. Every config is planned from another working directory, so each path it holds
// must resolve against its own folder.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>

#include <nlohmann/json.hpp>

#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/common/system.h"
#include "harness/runner/run_config.h"
#include "tests/longbench_archive.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

const std::string kSource = KVBENCH_SOURCE_DIR;

std::vector<std::string> shipped_configs() {
  std::vector<std::string> names;
  DIR* dir = ::opendir((kSource + "/configs").c_str());
  EXPECT_NE(dir, nullptr);
  while (dir != nullptr) {
    const dirent* e = ::readdir(dir);
    if (e == nullptr) break;
    const std::string name = e->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) names.push_back(name);
  }
  if (dir != nullptr) ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

// The shared tokenizer folder of a paper checkpoint's stand-in, by its name.
std::string tokenizer_of(const std::string& model) {
  if (model.find("Llama-2") != std::string::npos) return "llama2_spm";
  if (model.find("Llama-3") != std::string::npos) return "llama3_hf";
  if (model.find("Mistral") != std::string::npos) return "mistral_hf";
  if (model.find("Qwen") != std::string::npos) return "qwen2_hf";  // Qwen2.5 and Qwen3 share the vocabulary
  if (model.find("gemma-3") != std::string::npos) return "gemma3_hf";
  if (model.find("Phi-3") != std::string::npos) return "llama2_spm";  // Phi-3's is Llama-2's plus chat tokens
  return "";
}

// A copy of the repository's layout under root/repo (root/shared: ../shared) for the configs to find.
class Mirror {
 public:
  Mirror() {
    paths::create_directories(repo("configs"));
    paths::create_directories(repo("models"));
    EXPECT_EQ(::symlink((kSource + "/models/kvbench-demo").c_str(), repo("models/kvbench-demo").c_str()), 0);
    EXPECT_EQ(::symlink(test::shared_dir()->c_str(), tmp_.file("shared").c_str()), 0);
    for (const auto& name : shipped_configs()) test::write_file(repo("configs/" + name), test::read_file(kSource + "/configs/" + name));
    test::write_file(repo("published/longbench.csv"), test::read_file(kSource + "/published/longbench.csv"));
    paths::create_directories(tmp_.file("elsewhere"));
  }
  std::string repo(const std::string& rel) const { return tmp_.file("repo/" + rel); }
  std::string elsewhere() const { return tmp_.file("elsewhere"); }

  // data.zip beside the repository, two rows a file (the production checks run in test_data.cpp).
  std::string small_archive() const {
    test::Files files;
    for (const auto& [name, text] : test::official_like()) {
      const auto lines = test::lines_of(text);
      files[name] = lines.size() < 2 ? text : lines[0] + "\n" + lines[1] + "\n";
    }
    test::write_zip(tmp_.file("data.zip"), files);
    return tmp_.file("data.zip");
  }
  // Unpacked as `kvbench data` would (a small set is refused there, rightly).
  void small_data() const {
    for (const auto& [name, text] : test::official_like()) {
      if (name.size() < 6 || name.compare(name.size() - 6, 6, ".jsonl") != 0) continue;
      const auto lines = test::lines_of(text);
      test::write_file(repo("data/longbench/" + paths::filename(name)), lines[0] + "\n" + lines[1] + "\n");
    }
  }
  // models/<name>: random weights of the right vocabulary, the real tokenizer files, positions for 128k prompts.
  void stand_in(const std::string& name) const {
    const std::string dir = repo("models/" + name), tokenizer = tokenizer_of(name);
    ASSERT_FALSE(tokenizer.empty()) << name;
    const std::string from = test::shared_path("data/tokenizers/" + tokenizer);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "tokenizer.model"})
      if (paths::exists(from + "/" + f)) test::write_file(dir + "/" + f, test::read_file(from + "/" + f));
    const std::int64_t vocab = tokenizer == "llama3_hf"   ? 128256
                               : tokenizer == "qwen2_hf"  ? 152064
                               : tokenizer == "gemma3_hf" ? 262208
                                                          : 32064;
    const auto r = test::run_kvbench("make-tiny --out " + dir + " --layers 1 --hidden 16 --intermediate 16 --heads 2 "
                                     "--kv-heads 1 --tie-embeddings --dtype bf16 --max-positions 131072 --vocab " +
                                     std::to_string(vocab) + (tokenizer == "qwen2_hf" ? " --family qwen2" : ""));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

 private:
  test::TempDir tmp_;
};

// A config's paths are relative to its folder; those given with --set to the current directory; absolute ones stay.
TEST(ConfigPaths, ResolveAgainstTheConfigFolderAndSetAgainstTheWorkingDirectory) {
  const nlohmann::json config = {{"output_dir", "../out"},
                                 {"model", {{"path", "../models/m"}, {"tokenizer", "/abs/tok"}}},
                                 {"datasets", {{"data_dir", "data"}, {"synth", {{"haystack", "./essays"}}}}}};
  const std::string cwd = system::current_directory();
  const nlohmann::json r = prepare_run_config(config, "/repo/configs", {"model.tokenizer=tok", "datasets.names=[\"qasper\"]"});
  EXPECT_EQ(r["output_dir"], "/repo/out");
  EXPECT_EQ(r["model"]["path"], "/repo/models/m");
  EXPECT_EQ(r["model"]["tokenizer"], paths::join(cwd, "tok"));  // --set: the working directory's
  EXPECT_EQ(r["datasets"]["data_dir"], "/repo/configs/data");
  EXPECT_EQ(r["datasets"]["synth"]["haystack"], "/repo/configs/essays");
  EXPECT_EQ(r["datasets"]["names"], nlohmann::json({"qasper"}));
  EXPECT_EQ(paths::resolve("../../a/./b/../c", "/x/y/z"), "/x/a/c");
  EXPECT_EQ(paths::resolve("../..", "/x"), "/");
}

// report.json's config_sha256: the same for another location, sample selection, variant set or device; another
// for anything that changes how a sample is evaluated.
TEST(ConfigDigest, CoversTheEvaluationSettingsOnly) {
  const nlohmann::json base = nlohmann::json::parse(R"({"name": "a", "output_dir": "/o", "model": {"path": "/m", "dtype": "f32"},
      "datasets": {"names": ["qasper"], "data_dir": "/d", "limit": 2}, "policies": [{"name": "full"}]})");
  const auto digest = [&](const std::vector<std::string>& overrides) {
    nlohmann::json c = base;
    apply_overrides(c, overrides);
    return evaluation_sha256(parse_run_config(c, "c.json"));
  };
  const std::string d = digest({});
  for (const std::vector<std::string>& same : std::vector<std::vector<std::string>>{
           {"name=b", "output_dir=\"/p\"", "model.path=\"/n\"", "datasets.data_dir=\"/e\""},
           {"datasets.limit=1", "datasets.names=[\"trec\"]"},
           {"policies=[{\"name\": \"snapkv\", \"budget\": 64}]"},
           {"model.device=\"cuda\"", "model.batch_decode=\"on\"", "model.prefill_chunk=512"}})
    EXPECT_EQ(digest(same), d) << same[0];
  for (const char* other : {"model.dtype=\"bf16\"", "model.max_length=7500", "model.chat=\"llama2\"",
                                   "max_new_tokens=8", "seed=3"})
    EXPECT_NE(digest({other}), d) << other;
}

TEST(ShippedConfigs, EveryConfigPlansFromAnotherWorkingDirectory) {
  KVBENCH_REQUIRE_SHARED();  // the paper checkpoints' tokenizers and the real LongBench subsets
  const Mirror m;
  m.small_data();
  const auto names = shipped_configs();
  EXPECT_GE(names.size(), 18u);
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const nlohmann::json config = read_json_file(m.repo("configs/" + name), /*allow_comments=*/true);
    std::string flags = " --set model.device=cpu";
    if (config["model"].contains("path")) {
      const std::string path = config["model"]["path"];
      ASSERT_EQ(path.rfind("../models/", 0), 0u) << "model.path is relative to configs/: " << path;
      const std::string model = path.substr(10);
      if (model != "kvbench-demo" && !paths::exists(m.repo("models/" + model))) m.stand_in(model);
    }
    if (config.contains("datasets") && config["datasets"].contains("synth")) flags += " --set datasets.synth.count=1";
    const auto r = test::run_kvbench("run --dry-run --config " + m.repo("configs/" + name) + flags, m.elsewhere());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("run " + config.value("name", std::string("run")) + " -> results/"), std::string::npos) << r.out;
    if (config["model"].contains("path")) {
      EXPECT_NE(r.out.find("model " + m.repo(config["model"]["path"].get<std::string>().substr(3)) + " on cpu"),
                std::string::npos) << r.out;
    }
  }
  EXPECT_FALSE(paths::exists(m.elsewhere() + "/results"));  // dry runs write nothing
}

// README's "Reproduce a paper table", command by command, from the repository's root (data, model-info, the plan,
// Slurm and the table; `check` is CheckCli's).
TEST(ShippedConfigs, ReadmeReproducesAPaperTable) {
  KVBENCH_REQUIRE_SHARED();
  const Mirror m;
  const std::string root = m.repo(""), config = "configs/mistral-7b-instruct-v0.2-longbench.json";
  const std::string zip = m.small_archive();
  // kvbench data longbench --from data.zip --dir data/longbench: this small archive is refused, as it should be;
  // then the same command on the full-size one (test_data.cpp builds it the same way).
  auto r = test::run_kvbench("data longbench --from " + zip + " --dir data/longbench", root);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("data/narrativeqa.jsonl has 2 rows; the published narrativeqa has 200"), std::string::npos) << r.err;
  test::write_zip(zip, test::official_like());
  r = test::run_kvbench("data longbench --from " + zip + " --dir data/longbench", root);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"data_dir\": \"" + m.repo("data/longbench") + "\""), std::string::npos) << r.out;

  // kvbench model-info --config-only --model models/Mistral-7B-Instruct-v0.2 (config and tokenizer, no weights).
  const std::string model = m.repo("models/Mistral-7B-Instruct-v0.2");
  test::write_file(model + "/config.json", test::read_file(kSource + "/tests/data/model-configs/mistral/config.json"));
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    test::write_file(model + "/" + f, test::read_file(test::shared_path(std::string("data/tokenizers/mistral_hf/") + f)));
  r = test::run_kvbench("model-info --config-only --model models/Mistral-7B-Instruct-v0.2 --prompt-tokens 31500 --budget 128", root);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("supported           yes (family mistral)"), std::string::npos) << r.out;

  // kvbench run --config configs/mistral-7b-instruct-v0.2-longbench.json --dry-run (a stand-in's weights).
  paths::remove_all(model);
  m.stand_in("Mistral-7B-Instruct-v0.2");
  r = test::run_kvbench("run --config " + config + " --dry-run --set model.device=cpu", root);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("36 variants"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  narrativeqa: 200\n"), std::string::npos) << r.out;

  // kvbench slurm ... --dry-run: both scripts, nothing written.
  r = test::run_kvbench("slurm --config " + config + " --shards 16 --partition gpu --gpus-per-task 1 --time 08:00:00 "
                        "--setup 'module load cuda' --dry-run", root);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("#SBATCH --array=0-15\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("module load cuda\n"), std::string::npos) << r.out;
  EXPECT_FALSE(paths::exists(m.repo("results")));

  // kvbench table --report results/<run>/report.json --paper published/longbench.csv --model Mistral-7B-Instruct-v0.2
  // on a report of this config's variants (per KV head): only the published rows measured per KV head pair.
  nlohmann::json report = {{"run", "mistral-7b-instruct-v0.2-longbench"}, {"subsets", {"narrativeqa", "qasper"}}};
  for (const auto& [name, policy, budget] : std::vector<std::tuple<std::string, std::string, nlohmann::json>>{
           {"full", "full", nullptr}, {"snapkv-128", "snapkv", 128}, {"adakv-128", "adakv", 128}, {"h2o-128", "h2o", 128}})
    report["variants"].push_back({{"name", name}, {"policy", policy}, {"budget", budget},
                                  {"protocol", "question_aware"}, {"scores", {{"narrativeqa", 20.0}, {"qasper", 30.0}}}});
  test::write_file(m.repo("results/mistral-7b-instruct-v0.2-longbench/report.json"), report.dump());
  r = test::run_kvbench("table --report results/mistral-7b-instruct-v0.2-longbench/report.json --paper "
                        "published/longbench.csv --model Mistral-7B-Instruct-v0.2 --format json", root);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json table = nlohmann::json::parse(r.out);
  int paired = 0, unpaired = 0;
  for (const auto& row : table["rows"]) {
    if (row["published"] != true) continue;
    if (row["paired"] == true) {
      ++paired;
      EXPECT_TRUE(row["granularity"] == "kv_head" || (row["policy"] == "full" && row["granularity"] == "any")) << row;
    } else {
      ++unpaired;
      EXPECT_NE(row["unpaired"].get<std::string>().find("granularity query_head (published) vs kv_head (ours)"),
                std::string::npos) << row;
    }
  }
  // FullKV (Ada-KV's and SnapKV's tables), SnapKV and Ada-SnapKV at 128 per KV head (Ada-KV's GQA table);
  // SnapKV, Ada-SnapKV and H2O at 128 per query head (Ada-KV's Table 1) are listed as unpaired.
  EXPECT_EQ(paired, 4);
  EXPECT_EQ(unpaired, 3);
}

}  // namespace
}  // namespace kvbench
