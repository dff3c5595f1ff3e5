// Sharded runs (harness/runner/shard.h) and one worker per device (harness/runner/workers.h), on the CPU:
//  - a run sharded in 3 and merged has byte-identical predictions and the same report (timings aside) as the
//    run unsharded;
//  - --devices cpu,cpu gives the same predictions as one process; a worker killed with SIGKILL is reported,
//    and --resume finishes it to the same result;
//  - merge refuses missing, repeated and unfinished shards, shards of another config and shared samples;
//  - a LongBench-shaped random workload (prompt.random_ids.shape, issue 19's) has the published lengths and
//    max new tokens, and two CPU workers give the same predictions as one process on it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/model/random_checkpoint.h"
#include "harness/runner/run_config.h"
#include "harness/runner/shard.h"
#include "harness/runner/slurm.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {
using test::expect_one_error;
using test::run_kvbench;
using test::TempDir;

TEST(Shard, ParsesIOfN) {
  const Shard s = Shard::parse("2/5", "--shard");
  EXPECT_EQ(s.index, 2u);
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.name(), "2-of-5");
  for (const char* bad : {"5/5", "1", "a/3", "-1/3", "0/0", "1/3/4", ""})
    EXPECT_NE(test::error_of([&] { Shard::parse(bad, "--shard"); }).find("--shard must be I/N"), std::string::npos) << bad;
}

TEST(Shard, SplitsThePlanOnceOverAndBalancesItsText) {
  RunPlan plan;
  const std::vector<std::size_t> sizes = {900, 10, 400, 400, 50, 700, 300, 20, 600, 100};
  static const SubsetSpec spec{"narrativeqa"};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    Task t;
    t.subset = "narrativeqa";
    t.spec = &spec;
    t.sample.id = "s" + std::to_string(i);
    t.sample.context = std::string(sizes[i], 'x');
    t.index = i;
    plan.tasks.push_back(t);
  }
  std::vector<int> owners(sizes.size(), 0);
  std::vector<std::size_t> load;
  for (std::size_t k = 0; k < 3; ++k) {
    const RunPlan part = shard_plan(plan, Shard{k, 3}, "out");
    std::size_t text = 0, last = 0;
    for (std::size_t j = 0; j < part.tasks.size(); ++j) {
      ++owners[part.tasks[j].index];
      text += part.tasks[j].sample.context.size();
      if (j > 0) {
        EXPECT_GT(part.tasks[j].index, last) << "a shard keeps plan order";
      }
      last = part.tasks[j].index;
    }
    load.push_back(text);
    EXPECT_EQ(part.layout.root, "out");
  }
  for (int n : owners) EXPECT_EQ(n, 1) << "every sample in exactly one shard";
  // Longest first, each to the lightest shard: 900 | 700 | 600, then 400 -> 600's, 400 -> 700's, ...
  EXPECT_EQ(load, (std::vector<std::size_t>{1200, 1150, 1130}));
}

// A small evaluation on the demo model: two synthetic tasks, three samples each, two variants.
class ShardedRun : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_file(dir_.file("c.json"), R"({"name": "sh", "output_dir": ")" + dir_.file("out") + R"(",
      "model": {"path": ")" + std::string(KVBENCH_SOURCE_DIR) + R"(/models/kvbench-demo", "chat": "none"},
      "datasets": {"names": ["passkey", "niah_single"], "synth": {"tokens": 700, "count": 3, "seed": 1}},
      "policies": [{"name": "full"}, {"name": "snapkv", "budget": 64}]})");
  }
  std::string run(const std::string& args, int expect = 0) {
    const auto r = run_kvbench("--log-level warn run --config " + dir_.file("c.json") + " " + args);
    EXPECT_EQ(r.exit_code, expect) << r.err;
    return r.err;
  }
  std::string preds(const std::string& root, const std::string& variant, const std::string& subset) const {
    return test::read_file(root + "/predictions/" + variant + "/" + subset + ".jsonl");
  }
  // report.json without what depends on the machine's clock and memory.
  static nlohmann::json scores_of(const std::string& path) {
    nlohmann::json r = read_json_file(path);
    for (const char* k : {"wall_seconds", "peak_host_rss_bytes", "peak_device_memory_bytes"}) r.erase(k);
    for (auto& v : r["variants"])
      for (const char* k : {"timing", "peak_device_memory_bytes"}) v.erase(k);
    return r;
  }
  void expect_same_as_single(const std::string& root) const {
    for (const char* v : {"full", "snapkv-64"})
      for (const char* s : {"passkey", "niah_single"}) {
        const std::string single = preds(dir_.file("single"), v, s);
        EXPECT_FALSE(single.empty());
        EXPECT_EQ(preds(root, v, s), single) << v << "/" << s;
      }
    EXPECT_EQ(scores_of(root + "/report.json"), scores_of(dir_.file("single/report.json")));
  }
  TempDir dir_;
};

TEST_F(ShardedRun, ThreeShardsMergedEqualTheUnshardedRun) {
  run("--set output_dir=\\\"" + dir_.file("single") + "\\\"");
  for (int i = 0; i < 3; ++i) run("--shard " + std::to_string(i) + "/3");
  const auto m = run_kvbench("merge " + dir_.file("out/shards/0-of-3") + " " + dir_.file("out/shards/1-of-3") + " " +
                             dir_.file("out/shards/2-of-3"));
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("merged 3 shards (6 samples, 12 prediction rows)"), std::string::npos) << m.out;
  expect_same_as_single(dir_.file("out"));
  const auto manifest = read_json_file(dir_.file("out/manifest.json"));
  EXPECT_EQ(manifest["merged_from"].size(), 3u);
  EXPECT_EQ(manifest["sessions"].size(), 3u);
  // Merging again (after a resume, say) replaces the merge.
  EXPECT_EQ(run_kvbench("merge " + dir_.file("out/shards/0-of-3") + " " + dir_.file("out/shards/1-of-3") + " " +
                        dir_.file("out/shards/2-of-3")).exit_code, 0);
  expect_same_as_single(dir_.file("out"));
}

TEST_F(ShardedRun, MergeRefusesWhatIsNotOneWholeRun) {
  for (int i = 0; i < 2; ++i) run("--shard " + std::to_string(i) + "/2");
  const std::string a = dir_.file("out/shards/0-of-2"), b = dir_.file("out/shards/1-of-2");
  expect_one_error(run_kvbench("merge " + a), "missing shard(s) 1");
  expect_one_error(run_kvbench("merge " + a + " " + a), "repeats shard 0");
  expect_one_error(run_kvbench("merge " + dir_.file("nothing")), "the shard folder '" + dir_.file("nothing") + "' does not exist");
  // Another config: a different budget.
  run("--shard 1/2 --set output_dir=\\\"" + dir_.file("other") + "\\\" --set max_new_tokens=7");
  expect_one_error(run_kvbench("merge " + a + " " + dir_.file("other/shards/1-of-2")), "was run from another config");
  // A shard claiming another's samples.
  const std::string c = dir_.file("copy");
  ASSERT_EQ(std::system(("cp -r " + a + " " + c).c_str()), 0);
  nlohmann::json shard = read_json_file(c + "/shard.json");
  shard["shard"] = 1;
  test::write_file(c + "/shard.json", shard.dump());
  expect_one_error(run_kvbench("merge " + a + " " + c), "is in two shards");
  // A shard that did not finish (its last session has no end).
  nlohmann::json manifest = read_json_file(b + "/manifest.json");
  manifest["sessions"].back().erase("end");
  test::write_file(b + "/manifest.json", manifest.dump());
  expect_one_error(run_kvbench("merge " + a + " " + b), "did not finish");
  // An output folder holding a run of its own is not overwritten.
  run("--set output_dir=\\\"" + dir_.file("single") + "\\\"");
  manifest["sessions"].back()["end"] = "x";
  test::write_file(b + "/manifest.json", manifest.dump());
  expect_one_error(run_kvbench("merge " + a + " " + b + " --out " + dir_.file("single")), "not a merge of shards");
}

TEST_F(ShardedRun, TwoCpuWorkersEqualOneProcessAndAKilledWorkerResumes) {
  run("--set output_dir=\\\"" + dir_.file("single") + "\\\"");
  run("--devices cpu,cpu --set output_dir=\\\"" + dir_.file("two") + "\\\"");
  expect_same_as_single(dir_.file("two"));

  // Kill worker 1 with SIGKILL once it has written its first prediction row.
  const std::string cmd = std::string(KVBENCH_BINARY) + " --log-level info run --config " + dir_.file("c.json") +
                          " --devices cpu,cpu 2>" + dir_.file("killed.err");
  const pid_t parent = ::fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const std::string shard1 = dir_.file("out/shards/1-of-2");
  bool killed = false;
  for (int i = 0; i < 3000 && !killed; ++i) {
    if (!test::read_file(shard1 + "/predictions/full/passkey.jsonl").empty() &&
        paths::is_regular_file(shard1 + "/worker.pid")) {
      ::kill(std::stoi(test::read_file(shard1 + "/worker.pid")), SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  int status = 0;
  ::waitpid(parent, &status, 0);
  ASSERT_TRUE(killed) << "the worker finished before it could be killed";
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string err = test::read_file(dir_.file("killed.err"));
  EXPECT_NE(err.find("worker 1 (cpu"), std::string::npos) << err;
  EXPECT_NE(err.find("killed by signal 9"), std::string::npos) << err;
  EXPECT_NE(err.find("--devices cpu,cpu --resume"), std::string::npos) << err;
  EXPECT_FALSE(paths::exists(dir_.file("out/report.json"))) << "no merge of an unfinished run";

  run("--devices cpu,cpu --resume");
  expect_same_as_single(dir_.file("out"));
}

// prompt.random_ids.shape longbench16: per_subset prompts per English subset at its published average length in
// words (LongBench Table 1) x tokens_per_word, capped at max_tokens, each asking for its subset's max new tokens.
TEST(ShapedWorkload, LongBench16LengthsAndNewTokens) {
  auto parse = [](const std::string& random_ids) {
    return parse_run_config(nlohmann::json::parse(R"({"name": "s", "model": {"random": {"family": "llama"}},
        "prompt": {"random_ids": )" + random_ids + R"(}, "policies": [{"name": "full"}]})"), "s.json");
  };
  const RunConfig rc = parse(R"({"shape": "longbench16", "per_subset": 2})");
  ASSERT_EQ(rc.random_prompts.size(), 32u);
  // narrativeqa: 18,409 words x 1.3 = 23,931.7 -> 23,932 tokens, 128 new; gov_report: 8,734 x 1.3 = 11,354.2 ->
  // 11,354, 512 new; lcc: 1,235 x 1.3 = 1,605.5 -> 1,606, 64 new (the last subset but one).
  EXPECT_EQ(rc.random_prompts[0].id, "narrativeqa-0");
  EXPECT_EQ(rc.random_prompts[1].id, "narrativeqa-1");
  EXPECT_EQ(rc.random_prompts[0].tokens, 23932);
  EXPECT_EQ(rc.random_prompts[0].new_tokens, 128);
  EXPECT_EQ(rc.random_prompts[12].id, "gov_report-0");
  EXPECT_EQ(rc.random_prompts[12].tokens, 11354);
  EXPECT_EQ(rc.random_prompts[12].new_tokens, 512);
  EXPECT_EQ(rc.random_prompts[28].id, "lcc-0");
  EXPECT_EQ(rc.random_prompts[28].tokens, 1606);
  EXPECT_EQ(rc.random_prompts[28].new_tokens, 64);
  EXPECT_EQ(rc.random_prompt_tokens, 23932);  // the longest, for the memory check
  EXPECT_EQ(parse(R"({"shape": "longbench16", "max_tokens": 5000})").random_prompts[0].tokens, 5000);
  EXPECT_NE(test::error_of([&] { parse(R"({"shape": "longbench16", "tokens": 100})"); }).find("give per_subset"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { parse(R"({"shape": "ruler"})"); }).find("unknown prompt.random_ids.shape 'ruler'"),
            std::string::npos);
  // The plain form is unchanged: count prompts of `tokens`, no own new tokens.
  const RunConfig plain = parse(R"({"tokens": 10, "count": 3})");
  ASSERT_EQ(plain.random_prompts.size(), 3u);
  EXPECT_EQ(plain.random_prompts[2].id, "prompt-2");
  EXPECT_EQ(plain.random_prompts[2].new_tokens, 0);
}

TEST(ShapedWorkload, TwoCpuWorkersEqualOneProcess) {
  TempDir dir;
  auto config = [&](const std::string& out) {
    test::write_file(dir.file("c.json"), R"({"name": "shaped", "output_dir": ")" + out + R"(",
        "model": {"random": {"family": "llama", "layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "vocab": 512,
                             "seed": 0}, "device": "cpu", "dtype": "f32"},
        "prompt": {"random_ids": {"shape": "longbench16", "tokens_per_word": 0.02, "max_tokens": 200, "seed": 5}},
        "policies": [{"name": "full"}, {"name": "snapkv", "budget": 64}]})");
  };
  config(dir.file("one"));
  auto r = run_kvbench("--log-level warn run --config " + dir.file("c.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  config(dir.file("two"));
  r = run_kvbench("--log-level warn run --config " + dir.file("c.json") + " --devices cpu,cpu");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* v : {"full", "snapkv-64"}) {
    auto rows = [&](const std::string& root) {
      std::vector<std::string> lines;
      std::istringstream in(test::read_file(root + "/predictions/" + v + "/prompt.jsonl"));
      for (std::string line; std::getline(in, line);) lines.push_back(line);
      std::sort(lines.begin(), lines.end());
      return lines;
    };
    const auto one = rows(dir.file("one"));
    ASSERT_EQ(one.size(), 16u) << v;
    EXPECT_EQ(rows(dir.file("two")), one) << v;
  }
  // The full cache keeps every prompt token in each of 2 layers x 2 KV heads: narrativeqa min(200, 18,409 x 0.02)
  // = 200 tokens -> 800 entries, gov_report 8,734 x 0.02 = 174.68 -> 175 tokens -> 700. New tokens: at most the
  // subset's (128, 512; a random model may draw its stop token earlier).
  std::istringstream in(test::read_file(dir.file("one/predictions/full/prompt.jsonl")));
  int seen = 0;
  for (std::string line; std::getline(in, line);) {
    const auto row = nlohmann::json::parse(line);
    if (row["_id"] == "narrativeqa-0") {
      EXPECT_EQ(row["kept_tokens"].get<int>(), 800);
      EXPECT_LE(row["new_tokens"].get<int>(), 128);
      ++seen;
    }
    if (row["_id"] == "gov_report-0") {
      EXPECT_EQ(row["kept_tokens"].get<int>(), 700);
      EXPECT_LE(row["new_tokens"].get<int>(), 512);
      ++seen;
    }
  }
  EXPECT_EQ(seen, 2);
}

}  // namespace
}  // namespace kvbench

// Issue 30's Slurm scripts: one task per array task with its GPUs (--gpus-per-task or --gres), the merge job with
// resources of its own, and the --setup lines in both before `set -u`.
namespace kvbench {
namespace {

TEST(SlurmScripts, OneTaskGpusSetupAndTheMergesOwnResources) {
  SlurmOptions o;
  o.shards = 4;
  o.partition = "gpu";
  o.time = "08:00:00";
  o.gpus_per_task = 1;
  o.setup = "module load cuda/12.4\nconda activate kv\n";
  const nlohmann::json config = {{"name", "paper"}, {"model", {{"path", "/m"}}}};
  const SlurmJob job = make_slurm_job(config, "/nonexistent/out", o);
  for (const std::string* text : {&job.array_text, &job.merge_text}) {
    EXPECT_NE(text->find("#SBATCH --ntasks=1\n"), std::string::npos) << *text;
    const auto setup = text->find("module load cuda/12.4\nconda activate kv\n"), strict = text->find("set -euo pipefail");
    EXPECT_TRUE(setup != std::string::npos && setup < strict) << *text;
  }
  EXPECT_NE(job.array_text.find("#SBATCH --partition=gpu\n#SBATCH --time=08:00:00\n#SBATCH --ntasks=1\n#SBATCH --gpus-per-task=1\n"),
            std::string::npos) << job.array_text;
  EXPECT_NE(job.array_text.find("--set 'model.device=\"cuda\"'"), std::string::npos) << job.array_text;
  // The merge: no GPU, no partition or time of the array's, one CPU and an hour unless told.
  EXPECT_EQ(job.merge_text.find("gpu"), std::string::npos) << job.merge_text;
  EXPECT_EQ(job.merge_text.find("08:00:00"), std::string::npos) << job.merge_text;
  EXPECT_NE(job.merge_text.find("#SBATCH --time=01:00:00\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n"), std::string::npos)
      << job.merge_text;
  o.merge_partition = "cpu";
  o.merge_mem = "16G";
  o.gpus_per_task = 0;
  o.gres = "gpu:a100:1";
  const SlurmJob gres = make_slurm_job(config, "/nonexistent/out", o);
  EXPECT_NE(gres.array_text.find("#SBATCH --gres=gpu:a100:1\n"), std::string::npos) << gres.array_text;
  EXPECT_EQ(gres.array_text.find("--gpus-per-task"), std::string::npos) << gres.array_text;
  EXPECT_NE(gres.merge_text.find("#SBATCH --partition=cpu\n"), std::string::npos) << gres.merge_text;
  EXPECT_NE(gres.merge_text.find("#SBATCH --mem=16G\n"), std::string::npos) << gres.merge_text;
  o.gpus_per_task = 1;
  EXPECT_EQ(test::error_of([&] { make_slurm_job(config, "/nonexistent/out", o); }), "give --gpus-per-task or --gres, not both");
  o.gpus_per_task = 0;
  o.merge_time = "1:00\n#SBATCH --x";
  EXPECT_EQ(test::error_of([&] { make_slurm_job(config, "/nonexistent/out", o); }), "--merge-time must be one line, got '1:00\n#SBATCH --x'");
  EXPECT_FALSE(paths::exists("/nonexistent/out/slurm"));  // making the scripts writes nothing
}

}  // namespace
}  // namespace kvbench
