# Fails when product code reads a file or parses JSON around kvbench's one checked path (docs/robustness.md):
# JSON goes through harness/common/json_util (depth limit, duplicate keys, messages), files through
# harness/common/files (regular files only, sizes and line lengths checked, outputs never over special files or
# inputs). Only /proc files (harness/device/memory.cpp) are read directly.
file(GLOB_RECURSE sources ${SOURCE_DIR}/harness/*.cpp ${SOURCE_DIR}/harness/*.h ${SOURCE_DIR}/policies/*.cpp
     ${SOURCE_DIR}/policies/*.h ${SOURCE_DIR}/metrics/*.cpp ${SOURCE_DIR}/metrics/*.h ${SOURCE_DIR}/datasets/*.cpp
     ${SOURCE_DIR}/datasets/*.h)
set(bad "")
foreach(f ${sources})
  if(f MATCHES "harness/common/json_util.cpp$" OR f MATCHES "harness/device/memory.cpp$")
    continue()
  endif()
  file(STRINGS ${f} hits REGEX "json::parse\\(|sax_parse\\(|std::ifstream|std::ofstream|fopen\\(")
  if(hits)
    list(APPEND bad "${f}: ${hits}")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "reads or JSON parsing outside harness/common's checked path:\n${bad}")
endif()
