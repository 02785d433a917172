#!/usr/bin/env bash
# install.package: cmake --install into a temp prefix, then build and run
# consumer.c against the installed copy via pkg-config and via find_package.
set -u
build=$1 src=$2 cc=$3 extra=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
command -v pkg-config >/dev/null || { echo "skipped: pkg-config not installed"; exit 77; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" --component microvmi >"$tmp/install.log" 2>&1 ||
  fail "cmake --install failed: $(tail -5 "$tmp/install.log")"
[ -f "$prefix/include/microvmi.h" ] || fail "no include/microvmi.h in the prefix"
pc=$(find "$prefix" -name microvmi.pc | head -1)
[ -n "$pc" ] || fail "no microvmi.pc installed"
[ -n "$(find "$prefix" -name microvmiConfig.cmake)" ] || fail "no microvmiConfig.cmake installed"
[ -x "$prefix/bin/microvmi" ] || fail "no bin/microvmi installed"

# 1. pkg-config
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs microvmi) || fail "pkg-config cannot resolve microvmi"
libdir=$(pkg-config --variable=libdir microvmi)
[ -f "$libdir/libmicrovmi.so" ] || fail "pkg-config's libdir $libdir has no libmicrovmi.so"
# shellcheck disable=SC2086
"$cc" $extra -o "$tmp/consumer-pc" "$src/consumer.c" $flags -Wl,-rpath,"$libdir" \
  >"$tmp/cc.log" 2>&1 || fail "building with pkg-config flags ($flags): $(cat "$tmp/cc.log")"
out=$("$tmp/consumer-pc") || fail "the pkg-config build does not run: $out"
echo "pkg-config: $out"
grep -q "^microvmi 0.1.0: [1-9][0-9]* drivers" <<<"$out" || fail "unexpected output: $out"

# 2. find_package(microvmi)
mkdir -p "$tmp/proj"
cp "$src/consumer.c" "$tmp/proj/"
cp "$src/consumer-cmake.txt" "$tmp/proj/CMakeLists.txt"
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_C_FLAGS="$extra" -DCMAKE_EXE_LINKER_FLAGS="$extra" >"$tmp/cmake.log" 2>&1 ||
  fail "configuring with find_package(microvmi): $(tail -20 "$tmp/cmake.log")"
cmake --build "$tmp/proj/build" >"$tmp/build.log" 2>&1 ||
  fail "building with find_package(microvmi): $(tail -20 "$tmp/build.log")"
out2=$("$tmp/proj/build/consumer") || fail "the find_package build does not run: $out2"
echo "find_package: $out2"
[ "$out" = "$out2" ] || fail "the two builds disagree"
echo "install test passed"
