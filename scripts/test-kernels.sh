#!/usr/bin/env bash
# Runs the numeric tests (model, wire, and the API's bit-exactness against the model library)
# once for each OpenBLAS kernel this CPU can execute, chosen with OPENBLAS_CORETYPE. Each kernel
# sums in its own order, so a test that passes under one kernel only is caught here.
set -uo pipefail
cd "$(dirname "$0")/.."

filter='ModelTests|WireTests|RouteTests|GraphRouteTests|typedCallsMatchTheModelLibrary|twoServersEndIdentical'
# kernel:the CPU flags its code uses (as /proc/cpuinfo names them). OpenBLAS loads a kernel the
# CPU cannot run without complaint and dies on its first instruction, so this list decides.
kernels=(
    "Prescott:sse2 pni"
    "Core2:ssse3"
    "Nehalem:sse4_2 popcnt"
    "Sandybridge:avx"
    "Haswell:avx2 fma"
    "Zen:avx2 fma"
    "SkylakeX:avx512f avx512cd avx512bw avx512dq avx512vl"
    "Cooperlake:avx512f avx512cd avx512bw avx512dq avx512vl avx512_bf16"
)
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
# The kernel OpenBLAS really loads for a name (it falls back to the CPU's own for a name it lacks).
loaded() {
    OPENBLAS_CORETYPE=$1 python3 -c 'import ctypes, ctypes.util
lib = ctypes.CDLL("libopenblas.so.0"); lib.openblas_get_corename.restype = ctypes.c_char_p
print(lib.openblas_get_corename().decode())'
}

swift build --build-tests || exit 1
ran=0; failed=()
for entry in "${kernels[@]}"; do
    name=${entry%%:*}
    missing=""
    for flag in ${entry#*:}; do [[ $flags == *" $flag "* ]] || missing+=" $flag"; done
    if [ -n "$missing" ]; then echo "test-kernels: skip $name: this CPU lacks$missing"; continue; fi
    actual=$(loaded "$name")
    if [ "${actual,,}" != "${name,,}" ]; then echo "test-kernels: skip $name: this OpenBLAS has no such kernel (it loads $actual)"; continue; fi
    log=$(mktemp)
    if OPENBLAS_CORETYPE=$name GRADSERVE_EXPECT_BLAS_CORE=$name swift test --skip-build --filter "$filter" >"$log" 2>&1; then
        echo "test-kernels: $name: $(grep -E '^. Test run with' "$log" | tail -1 | sed 's/^. //')"
        ran=$((ran + 1))
    else
        grep -E '✘|error' "$log" | head -40
        echo "test-kernels: $name: FAILED"
        failed+=("$name")
    fi
    rm -f "$log"
done
echo "test-kernels: $ran kernels passed${failed:+, failed: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ] && [ $ran -gt 0 ]
