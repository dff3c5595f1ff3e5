// kvbench data: the official LongBench archive unpacked and verified (issue 30). The archives are built here
// from the real subsets in ../shared/data/longbench: the three real files as they are, and every other file
// of the published set made of real rows relabelled (short contexts), at the published row counts, so that
// the production path (published_rows) is the one tested.
#include <dirent.h>
#include <sys/stat.h>

#include <map>
#include <set>

#include "datasets/longbench_data.h"
#include "datasets/subset.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/common/sha256.h"
#include "tests/longbench_archive.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using test::Files;
using test::lines_of;
using test::official_like;
using test::write_zip;

std::vector<std::string> jsonl_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& name : data_set_files("longbench"))
    if (paths::exists(paths::join(dir, name + ".jsonl"))) out.push_back(name);
  return out;
}

// Every name in `dir` (none when it does not exist).
std::vector<std::string> entries_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

std::string coreutils_sha256(const std::string& path) {
  test::TempDir tmp;
  EXPECT_EQ(std::system(("sha256sum '" + path + "' > " + tmp.file("sum")).c_str()), 0);
  return test::read_file(tmp.file("sum")).substr(0, 64);
}

TEST(Sha256, PublishedTestVectors) {
  // FIPS 180-2 appendix B and the empty string.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 million;
  for (int i = 0; i < 1000; ++i) million.update(std::string(1000, 'a'));
  EXPECT_EQ(million.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(LongBenchData, PublishedCounts) {
  int total = 0;
  for (const auto& s : longbench_subsets()) total += s.rows;
  EXPECT_EQ(total, 4750);  // "a total of 4,750 test data" (THUDM/LongBench README)
  EXPECT_EQ(data_set_files("longbench").size(), 21u);
  EXPECT_EQ(data_set_files("longbench-e").size(), 13u);
  EXPECT_EQ(published_rows("multifieldqa_en"), 150);
  EXPECT_EQ(published_rows("repobench-p"), 500);
  EXPECT_EQ(published_rows("qasper_e"), 224);
  EXPECT_EQ(published_rows("musique_e"), 0);  // no LongBench-E file
  EXPECT_EQ(published_rows("passkey"), 0);
  EXPECT_EQ(test::error_of([] { data_set_files("longbench2"); }),
            "unknown data set 'longbench2' (longbench: the 21 LongBench subsets; longbench-e: the 13 LongBench-E files)");
}

TEST(LongBenchData, UnpacksTheOfficialLayoutAndRecordsChecksums) {
  KVBENCH_REQUIRE_SHARED();
  test::TempDir tmp;
  write_zip(tmp.file("data.zip"), official_like());
  const auto r = test::run_kvbench("data longbench --from " + tmp.file("data.zip") + " --dir " + tmp.file("lb"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("unpacked 21 files (4750 rows"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  \"data_dir\": \"" + tmp.file("lb") + "\"\n"), std::string::npos) << r.out;
  EXPECT_EQ(jsonl_in(tmp.file("lb")).size(), 21u);
  EXPECT_FALSE(paths::exists(tmp.file("lb/qasper_e.jsonl")));
  EXPECT_FALSE(paths::exists(tmp.file("lb/README.txt")));
  // The real file arrives byte for byte; the manifest's checksums are coreutils' ones.
  EXPECT_EQ(test::read_file(tmp.file("lb/multi_news.jsonl")), test::read_file(test::shared_path("data/longbench/multi_news.jsonl")));
  nlohmann::json manifest = read_json_file(tmp.file("lb/manifest.json"));
  ASSERT_EQ(manifest["files"].size(), 21u);
  for (const char* name : {"multi_news", "passage_retrieval_zh", "lcc"}) {
    const std::string file = std::string(name) + ".jsonl";
    EXPECT_EQ(manifest["files"][file]["sha256"], coreutils_sha256(tmp.file("lb/" + file))) << name;
    EXPECT_NE(r.out.find(file + "  " + std::to_string(published_rows(name)) + " rows  sha256 " +
                         manifest["files"][file]["sha256"].get<std::string>()), std::string::npos) << r.out;
  }
  EXPECT_EQ(manifest["files"]["lcc.jsonl"]["rows"], 500);
  EXPECT_EQ(manifest["sets"]["longbench"]["archive_sha256"], coreutils_sha256(tmp.file("data.zip")));

  // LongBench-E from the same archive into the same folder: the manifest keeps both sets.
  const auto e = test::run_kvbench("data longbench-e --from " + tmp.file("data.zip") + " --dir " + tmp.file("lb"));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  manifest = read_json_file(tmp.file("lb/manifest.json"));
  EXPECT_EQ(manifest["files"].size(), 34u);
  EXPECT_EQ(manifest["files"]["multi_news_e.jsonl"]["rows"], 294);
  EXPECT_EQ(manifest["files"]["multi_news.jsonl"]["set"], "longbench");
  EXPECT_EQ(manifest["sets"].size(), 2u);
}

// Each damaged archive is refused with the file (and line) named, and nothing is left in the folder.
void expect_refused(Files files, const std::string& needle, const std::string& set = "longbench") {
  test::TempDir tmp;
  write_zip(tmp.file("data.zip"), files);
  const auto r = test::run_kvbench("data " + set + " --from " + tmp.file("data.zip") + " --dir " + tmp.file("lb"));
  test::expect_one_error(r, needle);
  EXPECT_TRUE(jsonl_in(tmp.file("lb")).empty());
  EXPECT_FALSE(paths::exists(tmp.file("lb/manifest.json")));
  EXPECT_EQ(entries_in(tmp.file("lb")), std::vector<std::string>{});  // no temporary left behind either
}

TEST(LongBenchData, RefusesTruncatedAlteredAndMissingFiles) {
  KVBENCH_REQUIRE_SHARED();
  Files truncated = official_like();
  const std::vector<std::string> rows = lines_of(truncated["data/multi_news.jsonl"]);
  std::string first150;
  for (int i = 0; i < 150; ++i) first150 += rows[static_cast<std::size_t>(i)] + "\n";
  truncated["data/multi_news.jsonl"] = first150;
  expect_refused(truncated, ":data/multi_news.jsonl has 150 rows; the published multi_news has 200 (a truncated or altered file)");

  Files cut = official_like();  // a download cut off in the middle of row 200
  cut["data/multi_news.jsonl"].resize(cut["data/multi_news.jsonl"].size() - 500);
  expect_refused(cut, ":data/multi_news.jsonl:200: invalid JSON");

  Files altered = official_like();  // one row of a real file changed
  std::vector<std::string> zh = lines_of(altered["data/passage_retrieval_zh.jsonl"]);
  nlohmann::json row = nlohmann::json::parse(zh[16]);
  row["answers"] = "段落1";
  zh[16] = row.dump();
  std::string text;
  for (const auto& l : zh) text += l + "\n";
  altered["data/passage_retrieval_zh.jsonl"] = text;
  expect_refused(altered, ":data/passage_retrieval_zh.jsonl:17: field 'answers' must be a list of strings");

  Files swapped = official_like();  // a file under another subset's name
  swapped["data/qasper.jsonl"] = swapped["data/narrativeqa.jsonl"];
  expect_refused(swapped, ":data/qasper.jsonl:1: a row of 'narrativeqa' in the file of qasper");

  Files missing = official_like();
  missing.erase("data/lcc.jsonl");
  missing.erase("data/repobench-p_e.jsonl");
  expect_refused(missing, "is not the complete LongBench (21 files): it lacks 1 of them:\n  data/lcc.jsonl\n");
  expect_refused(missing, "is not the complete LongBench-E (13 files): it lacks 1 of them:\n  data/repobench-p_e.jsonl\n",
                 "longbench-e");

  Files long_row = official_like();  // a row beyond kvbench's line limit: refused as the archive inflates it
  long_row["data/trec.jsonl"] = std::string(std::size_t{5} << 20, 'x') + "\n" + long_row["data/trec.jsonl"];
  expect_refused(long_row, ":data/trec.jsonl:1: a line longer than 4 MiB");

  Files flat;  // not LongBench at all
  flat["notes/a.jsonl"] = "{}\n";
  expect_refused(flat, "holds no LongBench file (expected data/<subset>.jsonl");
}

// The unpacked files are written through kvbench's checked outputs: never through a FIFO (or any special file) in
// the target folder, never over the archive being read.
TEST(LongBenchData, WritesNeverThroughSpecialFilesOrTheArchive) {
  KVBENCH_REQUIRE_SHARED();
  test::TempDir tmp;
  paths::create_directories(tmp.file("lb"));
  write_zip(tmp.file("lb/qasper.jsonl"), official_like());
  test::expect_one_error(test::run_kvbench("data longbench --from " + tmp.file("lb/qasper.jsonl") + " --dir " + tmp.file("lb")),
                         "one of this command's inputs");
  EXPECT_EQ(entries_in(tmp.file("lb")), std::vector<std::string>{"qasper.jsonl"});
  write_zip(tmp.file("data.zip"), official_like());
  ASSERT_EQ(::mkfifo(tmp.file("lb/narrativeqa.jsonl").c_str(), 0644), 0);
  test::expect_one_error(test::run_kvbench("data longbench --from " + tmp.file("data.zip") + " --dir " + tmp.file("lb")),
                         "FIFO");
  struct stat st {};
  ASSERT_EQ(::stat(tmp.file("lb/narrativeqa.jsonl").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(LongBenchData, RefusesADamagedArchive) {
  KVBENCH_REQUIRE_SHARED();
  test::TempDir tmp;
  Files one = official_like();
  write_zip(tmp.file("data.zip"), one);
  std::string bytes = test::read_file(tmp.file("data.zip"));
  bytes[bytes.size() / 2] ^= 0x55;  // a flipped byte inside some entry's compressed data
  test::write_file(tmp.file("data.zip"), bytes);
  const auto r = test::run_kvbench("data longbench --from " + tmp.file("data.zip") + " --dir " + tmp.file("lb"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the archive is damaged"), std::string::npos) << r.err;
  test::write_file(tmp.file("not.zip"), "hello");
  test::expect_one_error(test::run_kvbench("data longbench --from " + tmp.file("not.zip") + " --dir " + tmp.file("lb")),
                         "is not a ZIP archive");
}

TEST(LongBenchData, RunsNameEveryMissingSubset) {
  test::TempDir tmp;
  test::write_file(tmp.file("qasper.jsonl"), "");
  test::write_file(tmp.file("narrativeqa.jsonl"), "");
  EXPECT_EQ(test::error_of([&] { check_data_dir(tmp.path(), {"narrativeqa", "qasper", "lcc", "trec"}); }),
            "data_dir '" + tmp.path() + "' holds 2 of the 4 subsets this run reads; missing:\n  lcc, trec\n(unpack "
            "LongBench there: kvbench data longbench --from data.zip --dir " + tmp.path() + ")");
  EXPECT_EQ(test::error_of([&] { check_data_dir(tmp.path(), {"qasper_e", "lcc_e"}); }),
            "data_dir '" + tmp.path() + "' holds none of the 2 subsets this run reads; missing:\n  qasper_e, lcc_e\n"
            "(unpack LongBench there: kvbench data longbench-e --from data.zip --dir " + tmp.path() + ")");
  EXPECT_EQ(test::error_of([&] { check_data_dir(tmp.path(), {"qasper"}); }), "<no error>");
  // The same through a run: a dry run of the 16 English subsets against this folder.
  test::write_file(tmp.file("c.json"), R"({"model": {"path": ")" + std::string(KVBENCH_SOURCE_DIR) +
      R"(/models/kvbench-demo"}, "datasets": {"names": ["longbench16"], "data_dir": ")" + tmp.path() +
      R"("}, "policies": [{"name": "full"}]})");
  const auto r = test::run_kvbench("run --config " + tmp.file("c.json") + " --dry-run");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("holds 2 of the 16 subsets this run reads; missing:\n  multifieldqa_en, hotpotqa, 2wikimqa, "
                       "musique, gov_report, qmsum\n  multi_news, "), std::string::npos) << r.err;
}

}  // namespace
}  // namespace kvbench
