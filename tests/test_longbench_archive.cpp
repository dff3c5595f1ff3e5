// Test helpers: LongBench archives built from ../shared's real subsets (longbench_archive.h). No tests here.
#include <gtest/gtest.h>
#include <zip.h>

#include <set>

#include <nlohmann/json.hpp>

#include "datasets/longbench_data.h"
#include "datasets/subset.h"
#include "tests/longbench_archive.h"
#include "tests/test_support.h"

namespace kvbench::test {

void write_zip(const std::string& path, const Files& files) {
  zipFile zf = zipOpen64(path.c_str(), APPEND_STATUS_CREATE);
  ASSERT_NE(zf, nullptr) << path;
  for (const auto& [name, bytes] : files) {
    zip_fileinfo info{};
    ASSERT_EQ(zipOpenNewFileInZip64(zf, name.c_str(), &info, nullptr, 0, nullptr, 0, nullptr, Z_DEFLATED, 1, 1), ZIP_OK);
    ASSERT_EQ(zipWriteInFileInZip(zf, bytes.data(), static_cast<unsigned>(bytes.size())), ZIP_OK);
    ASSERT_EQ(zipCloseFileInZip(zf), ZIP_OK);
  }
  ASSERT_EQ(zipClose(zf, nullptr), ZIP_OK);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) out.push_back(text.substr(start, nl - start));
  return out;
}

namespace {

std::string utf8_prefix(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

const Files& official_like() {
  static const Files files = [] {
    Files f;
    const std::set<std::string> real = {"multi_news", "multifieldqa_zh", "passage_retrieval_zh"};
    for (const auto& name : real) f["data/" + name + ".jsonl"] = read_file(shared_path("data/longbench/" + name + ".jsonl"));
    const std::vector<std::string> donor = lines_of(f["data/multi_news.jsonl"]);
    std::vector<std::string> names = data_set_files("longbench"), e = data_set_files("longbench-e");
    names.insert(names.end(), e.begin(), e.end());
    for (const auto& name : names) {
      if (real.count(name)) continue;
      std::string text;
      for (int i = 0; i < published_rows(name); ++i) {
        nlohmann::json row = nlohmann::json::parse(donor[static_cast<std::size_t>(i) % donor.size()]);
        row["dataset"] = name;
        row["_id"] = name + "-" + std::to_string(i);
        row["context"] = utf8_prefix(row["context"].get<std::string>(), 200);
        text += row.dump() + "\n";
      }
      f["data/" + name + ".jsonl"] = text;
    }
    f["data/README.txt"] = "not a subset: ignored\n";
    return f;
  }();
  return files;
}

}  // namespace kvbench::test
