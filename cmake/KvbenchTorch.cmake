# Finds libtorch, refuses one older than kvbench supports (one line naming both versions), and sets
# KVBENCH_CXX11_ABI to the libstdc++ ABI libtorch was built with, which every kvbench target is then compiled
# with (CMakeLists.txt). Sets KVBENCH_TORCH_HAS_CUDA.
#
# The oldest supported: libtorch 1.13 (Debian 12's libtorch-dev) for CPU builds; torch 2.1 for CUDA builds
# (the kernels and the fast decode path use what 2.1 has; older CUDA wheels are not tested).
set(KVBENCH_MIN_TORCH 1.13)
# Stops configure with one unwrapped line (CMake wraps FATAL_ERROR text over several lines).
macro(kvbench_stop)
  string(CONCAT _kvbench_stop_text ${ARGN})
  message(NOTICE "error: kvbench: ${_kvbench_stop_text}")
  message(FATAL_ERROR "kvbench: configure stopped (the line above says why)")
endmacro()
set(KVBENCH_MIN_TORCH_CUDA 2.1)

# The version first, on its own: an old TorchConfig.cmake may fail in other ways before we could say why. CMake
# searches on past a config of too old a version; the first one it considered is the one the user pointed at
# (CMAKE_PREFIX_PATH, Torch_DIR), so that one decides, never a second libtorch found elsewhere.
find_package(Torch ${KVBENCH_MIN_TORCH} CONFIG QUIET)
if(Torch_CONSIDERED_VERSIONS)
  list(GET Torch_CONSIDERED_VERSIONS 0 _first_version)
  list(GET Torch_CONSIDERED_CONFIGS 0 _first_config)
  if(_first_version VERSION_LESS KVBENCH_MIN_TORCH)
    get_filename_component(_first_dir "${_first_config}" DIRECTORY)
    kvbench_stop("libtorch ${_first_version} found (${_first_dir}) is too old: kvbench needs libtorch >= "
                 "${KVBENCH_MIN_TORCH} (torch >= ${KVBENCH_MIN_TORCH_CUDA} for CUDA builds)")
  endif()
endif()
if(NOT Torch_FOUND)
  kvbench_stop("libtorch not found: run scripts/setup.sh (it finds a pip or conda torch), or configure with "
               "-DCMAKE_PREFIX_PATH=<torch.utils.cmake_prefix_path> or the folder of an unpacked libtorch")
endif()

set(KVBENCH_TORCH_HAS_CUDA OFF)
if(TARGET c10_cuda OR C10_CUDA_LIBRARY)
  set(KVBENCH_TORCH_HAS_CUDA ON)
  if(Torch_VERSION VERSION_LESS KVBENCH_MIN_TORCH_CUDA)
    kvbench_stop("libtorch ${Torch_VERSION} with CUDA found (${Torch_DIR}) is too old: CUDA builds need torch >= "
                 "${KVBENCH_MIN_TORCH_CUDA} (a CPU libtorch >= ${KVBENCH_MIN_TORCH} also works)")
  endif()
endif()

# libtorch states its ABI in TORCH_CXX_FLAGS (-D_GLIBCXX_USE_CXX11_ABI=0 in pip wheels before torch 2.7).
set(_torch_abi 1)
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=([01])")
  set(_torch_abi ${CMAKE_MATCH_1})
endif()
if(NOT "${KVBENCH_CXX11_ABI}" STREQUAL "" AND NOT "${KVBENCH_CXX11_ABI}" STREQUAL "${_torch_abi}")
  message(FATAL_ERROR "kvbench: KVBENCH_CXX11_ABI=${KVBENCH_CXX11_ABI} but libtorch ${Torch_VERSION} was built with "
          "_GLIBCXX_USE_CXX11_ABI=${_torch_abi}: leave KVBENCH_CXX11_ABI empty to follow libtorch")
endif()
set(KVBENCH_CXX11_ABI ${_torch_abi})
