// The POSIX path helpers that stand in for the C++17 filesystem library (see harness/common/paths.h for why).
#include <gtest/gtest.h>

#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

TEST(Paths, JoinAndParent) {
  EXPECT_EQ(paths::join("a", "b"), "a/b");
  EXPECT_EQ(paths::join("a/", "b"), "a/b");
  EXPECT_EQ(paths::join("", "b"), "b");
  EXPECT_EQ(paths::parent("a/b/c.json"), "a/b");
  EXPECT_EQ(paths::parent("c.json"), "");
  EXPECT_EQ(paths::parent("/c"), "/");
}

TEST(Paths, CreateAndRemoveTrees) {
  test::TempDir tmp;
  const std::string deep = tmp.file("x/y/z");
  paths::create_directories(deep);
  EXPECT_TRUE(paths::is_directory(deep));
  test::write_file(paths::join(deep, "f.txt"), "hi");
  test::write_file(tmp.file("x/g.txt"), "hi");
  EXPECT_TRUE(paths::is_regular_file(tmp.file("x/g.txt")));
  EXPECT_THROW(paths::create_directories(tmp.file("x/g.txt/sub")), Error);  // a file is in the way
  paths::rename(tmp.file("x/g.txt"), tmp.file("x/h.txt"));
  EXPECT_TRUE(paths::exists(tmp.file("x/h.txt")));
  EXPECT_THROW(paths::rename(tmp.file("x/missing"), tmp.file("x/other")), Error);
  paths::remove_all(tmp.file("x"));
  EXPECT_FALSE(paths::exists(tmp.file("x")));
  paths::remove_all(tmp.file("never-existed"));  // fine
  paths::remove_file(tmp.file("never-existed"));
}

}  // namespace
}  // namespace kvbench
