#!/bin/sh
# make-hex.sh: assemble each stub-<arch>.S into stub-<arch>.hex (one line of hex: the bytes the
# injector copies into the target). The agent image has no assembler, so the hex is shipped;
# test/stub.test.ts re-runs this into a temporary directory and compares.
# usage: make-hex.sh [OUTDIR]   (default: this directory)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/stub-hex.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for src in "$here"/stub-*.S; do
  arch=${src##*/stub-}; arch=${arch%.S}
  case "$arch" in
    x86_64) as=as; asflags=--64; objcopy=objcopy ;;
    aarch64) as=aarch64-linux-gnu-as; asflags=; objcopy=aarch64-linux-gnu-objcopy
      if [ "$(uname -m)" = aarch64 ]; then as=as; objcopy=objcopy; fi ;;
    *) echo "make-hex.sh: no assembler known for $arch" >&2; exit 2 ;;
  esac
  command -v "$as" >/dev/null || { echo "make-hex.sh: $as is missing (binutils for $arch)" >&2; exit 2; }
  $as $asflags -o "$tmp/$arch.o" "$src"
  $objcopy -O binary -j .text "$tmp/$arch.o" "$tmp/$arch.bin"
  od -An -v -tx1 "$tmp/$arch.bin" | tr -d ' \n' > "$out/stub-$arch.hex"
  echo >> "$out/stub-$arch.hex"
done
