#!/bin/sh
# Regenerates payloads/stub/stub-ARCH.hex from payloads/stub/stub-ARCH.S: the thread body that
# the injector writes into the target, kept as hex because the agent image has no assembler.
# test/stub.test.ts runs this into a scratch file and compares it with the shipped one.
#
# usage: sh scripts/stub.sh ARCH [OUT]    ARCH: x86_64 or aarch64; OUT: default the shipped .hex
set -eu
arch=${1:?usage: sh scripts/stub.sh x86_64|aarch64 [OUT]}
dir=$(cd "$(dirname "$0")/../payloads/stub" && pwd)
out=${2:-$dir/stub-$arch.hex}
case "$arch" in
  x86_64) as='as --64' objcopy=objcopy ;;
  aarch64)
    # a cross assembler on other machines, the native one on an arm64 machine
    if command -v aarch64-linux-gnu-as >/dev/null 2>&1; then as=aarch64-linux-gnu-as objcopy=aarch64-linux-gnu-objcopy
    else as=as objcopy=objcopy; fi ;;
  *) echo "scripts/stub.sh: unknown architecture $arch (x86_64 or aarch64)" >&2; exit 2 ;;
esac
[ -r "$dir/stub-$arch.S" ] || { echo "scripts/stub.sh: no $dir/stub-$arch.S" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pyheap-stub.XXXXXXXX")
trap 'rm -rf "$tmp"' EXIT
$as -o "$tmp/stub.o" "$dir/stub-$arch.S"
$objcopy -O binary -j .text "$tmp/stub.o" "$tmp/stub.bin"
# one line of hex, as agent.sh reads it
{ od -An -v -tx1 "$tmp/stub.bin" | tr -d ' \n'; echo; } > "$tmp/stub.hex"
mv "$tmp/stub.hex" "$out"
