# Fails when a C++ source uses the C++17 filesystem library: PyTorch's libtorch exports old-ABI copies of its
# symbols that a binary can bind to and crash on (see harness/common/paths.h). Use kvbench::paths instead.
file(GLOB_RECURSE sources ${SOURCE_DIR}/harness/*.cpp ${SOURCE_DIR}/harness/*.h ${SOURCE_DIR}/policies/*.cpp
     ${SOURCE_DIR}/policies/*.h ${SOURCE_DIR}/metrics/*.cpp ${SOURCE_DIR}/metrics/*.h ${SOURCE_DIR}/datasets/*.cpp
     ${SOURCE_DIR}/datasets/*.h ${SOURCE_DIR}/tests/*.cpp ${SOURCE_DIR}/tests/*.h)
set(bad "")
foreach(f ${sources})
  file(STRINGS ${f} hits REGEX "#include <filesystem>|std::filesystem")
  if(hits)
    list(APPEND bad ${f})
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "std::filesystem used in: ${bad}")
endif()
