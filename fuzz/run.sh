#!/bin/sh
# Fuzzes the .cnf parser and the configuration model on the stable toolchain.
#
#   fuzz/run.sh [SECONDS] [TARGET]     SECONDS defaults to 300, TARGET to cnf
#
# Installs cargo-fuzz when it is missing. The corpus grows in fuzz/corpus/TARGET (git-ignored);
# fuzz/seeds/TARGET is read, never written. A crash is saved in fuzz/artifacts/TARGET/ and the
# script exits non-zero.
set -eu

seconds="${1:-300}"
target="${2:-cnf}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

mkdir -p "fuzz/corpus/$target"
seeds="fuzz/seeds/$target"
# cnf_export has no seeds of its own: the .cnf seeds suit it.
[ -d "$seeds" ] || seeds="fuzz/seeds/cnf"

# Both targets read .cnf text, so both use the .cnf dictionary.
dict="-dict=fuzz/cnf.dict"

# --sanitizer none: the code under test is safe Rust, and without AddressSanitizer nothing
# needs a nightly compiler (see fuzz/README.md for the ASan variant).
exec cargo fuzz run --sanitizer none "$target" "fuzz/corpus/$target" "$seeds" -- \
    "$dict" -max_total_time="$seconds" -print_final_stats=1
