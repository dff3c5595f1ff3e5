# Sourced by scripts/setup.sh and scripts/build.sh: finds the libtorch kvbench builds against.
#   kvbench_find_libtorch CHOICE [PYTHON]
# CHOICE: auto (a Python torch, else the distribution's libtorch-dev), python, system, or a folder holding an
# unpacked libtorch (the zip from pytorch.org: DIR/share/cmake/Torch, or its parent). Sets
#   LIBTORCH_KIND (python|dir|system), LIBTORCH_PREFIX (for CMAKE_PREFIX_PATH; empty for system),
#   LIBTORCH_VERSION, LIBTORCH_PYTHON (the interpreter whose torch it is), LIBTORCH_CUDA (torch.version.cuda or "").
# Returns 1 with a message on stderr when none is usable.
KVBENCH_MIN_TORCH=1.13
KVBENCH_MIN_TORCH_CUDA=2.1

kvbench_version_ge() {  # kvbench_version_ge A B: A >= B (numeric dotted, "+cu124" suffixes ignored)
  local a=${1%%+*} b=${2%%+*}
  [ "$(printf '%s\n%s\n' "$b" "$a" | sort -V | head -n1)" = "$b" ]
}

kvbench_python_torch() {  # kvbench_python_torch PY: prints "version prefix cuda" of PY's torch, or fails
  "$1" - 2>/dev/null <<'PY'
import torch, torch.utils
print(torch.__version__, torch.utils.cmake_prefix_path, torch.version.cuda or "-")
PY
}

kvbench_find_libtorch() {
  local choice=${1:-auto} python=${2:-} line v p c
  LIBTORCH_KIND="" LIBTORCH_PREFIX="" LIBTORCH_VERSION="" LIBTORCH_PYTHON="" LIBTORCH_CUDA=""
  case "$choice" in
    auto|python)
      local candidates=()
      [ -n "$python" ] && candidates+=("$python")
      [ -n "${CONDA_PREFIX:-}" ] && [ -x "$CONDA_PREFIX/bin/python" ] && candidates+=("$CONDA_PREFIX/bin/python")
      candidates+=(python3 python)
      for p in "${candidates[@]}"; do
        command -v "$p" >/dev/null 2>&1 || continue
        line=$(kvbench_python_torch "$p") || continue
        read -r v prefix c <<<"$line"
        if ! kvbench_version_ge "$v" "$KVBENCH_MIN_TORCH" ||
           { [ "$c" != "-" ] && ! kvbench_version_ge "$v" "$KVBENCH_MIN_TORCH_CUDA"; }; then
          echo "note: $p has torch $v, older than kvbench supports (>= $KVBENCH_MIN_TORCH; >= $KVBENCH_MIN_TORCH_CUDA with CUDA): not used" >&2
          continue
        fi
        LIBTORCH_KIND=python LIBTORCH_PREFIX=$prefix LIBTORCH_VERSION=$v LIBTORCH_PYTHON=$(command -v "$p")
        [ "$c" != "-" ] && LIBTORCH_CUDA=$c
        return 0
      done
      if [ "$choice" = python ]; then
        echo "error: no Python with torch >= $KVBENCH_MIN_TORCH found (tried: ${candidates[*]}): pip install torch, or pass --python PATH" >&2
        return 1
      fi
      kvbench_find_libtorch system
      return $?
      ;;
    system)
      local installed candidate
      installed=$(dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null || true)
      candidate=$(apt-cache policy libtorch-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
      v=${installed:-$candidate}
      if [ -z "$v" ] || [ "$v" = "(none)" ]; then
        echo "error: no libtorch found: install PyTorch >= $KVBENCH_MIN_TORCH_CUDA (pip install torch, or conda), or unzip a libtorch from pytorch.org and pass --libtorch DIR" >&2
        return 1
      fi
      v=${v#*:}; v=${v%%-*}; v=${v%%+*}
      if ! kvbench_version_ge "$v" "$KVBENCH_MIN_TORCH"; then
        echo "error: this system's libtorch-dev is $v; kvbench needs libtorch >= $KVBENCH_MIN_TORCH: install PyTorch >= $KVBENCH_MIN_TORCH_CUDA (pip install torch) or pass --libtorch DIR (a libtorch zip from pytorch.org)" >&2
        return 1
      fi
      LIBTORCH_KIND=system LIBTORCH_VERSION=$v
      return 0
      ;;
    *)
      local dir=$choice
      [ -d "$dir/libtorch/share/cmake/Torch" ] && dir=$dir/libtorch
      if [ ! -f "$dir/share/cmake/Torch/TorchConfig.cmake" ]; then
        echo "error: --libtorch $choice: no share/cmake/Torch/TorchConfig.cmake there (expected the folder unpacked from a libtorch zip)" >&2
        return 1
      fi
      v=$(sed -n 's/.*PACKAGE_VERSION "\([^"]*\)".*/\1/p' "$dir/share/cmake/Torch/TorchConfigVersion.cmake" 2>/dev/null | head -n1)
      [ -f "$dir/build-version" ] && v=$(head -n1 "$dir/build-version")
      LIBTORCH_KIND=dir LIBTORCH_PREFIX=$(cd "$dir" && pwd) LIBTORCH_VERSION=${v:-unknown}
      case "$v" in *+cu[0-9]*) c=${v##*+cu}; LIBTORCH_CUDA=${c%?}.${c: -1} ;; esac   # +cu124 -> 12.4
      return 0
      ;;
  esac
}
