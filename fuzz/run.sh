#!/bin/sh
# Fuzzes the parsers (.cnf and the configuration model, SIP datagrams, dial plans) on the
# stable toolchain.
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
dict=""
case "$target" in
    cnf | cnf_export)
        # cnf_export has no seeds of its own: the .cnf seeds suit it. Both read .cnf text.
        seeds="fuzz/seeds/cnf"
        dict="-dict=fuzz/cnf.dict"
        ;;
    sip_datagram)
        # The RFC 4475 torture messages, read where they live (never copied).
        seeds="../shared/testdata/rfc4475"
        ;;
    dialplan)
        # The sample tree (its dialplan.xml; the other files are harmless starting points).
        seeds="examples/tftp"
        ;;
    *)
        seeds="fuzz/seeds/$target"
        ;;
esac
[ -d "$seeds" ] || seeds="fuzz/seeds/cnf"

# --sanitizer none: the code under test is safe Rust, and without AddressSanitizer nothing
# needs a nightly compiler (see fuzz/README.md for the ASan variant).
exec cargo fuzz run --sanitizer none "$target" "fuzz/corpus/$target" "$seeds" -- \
    ${dict:+"$dict"} -max_total_time="$seconds" -print_final_stats=1
