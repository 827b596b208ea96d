#!/bin/sh
# cli_smoke.sh - smoke test of the standalone C command line (hdrnn_c).
#
#   sh native/tests/cli_smoke.sh path/to/hdrnn_c WORKDIR
#
# Writes a tiny synthetic MNIST-like IDX dataset with printf (28x28 images of
# two easy classes: class 0 has the top half bright, class 1 the bottom half),
# trains on it, evaluates, classifies PGM images, and checks that bad input
# exits non-zero with a one-line message and never crashes.
# POSIX sh with printf, od, dd, wc, grep, cat.
set -u

CLI=${1:?usage: cli_smoke.sh HDRNN_C WORKDIR}
WORK=${2:?usage: cli_smoke.sh HDRNN_C WORKDIR}
case $CLI in /*) ;; *) CLI=$(pwd)/$CLI ;; esac

failures=0
checks=0
fail() {
  failures=$((failures + 1))
  echo "FAILED: $*" >&2
}
ok() {
  checks=$((checks + 1))
}

rm -rf "$WORK" && mkdir -p "$WORK/data" || exit 1
cd "$WORK" || exit 1

# ------------------------------------------------------------ the data
# A row of 28 bytes, bright or dark; a half image is 14 rows.
row_on='' row_off=''
i=0
while [ $i -lt 28 ]; do
  row_on="$row_on\\377"
  row_off="$row_off\\000"
  i=$((i + 1))
done
: >on.bin
: >off.bin
i=0
while [ $i -lt 14 ]; do
  printf "$row_on" >>on.bin
  printf "$row_off" >>off.bin
  i=$((i + 1))
done
[ "$(wc -c <on.bin | tr -d ' ')" = 392 ] || { echo "cannot write binary with printf" >&2; exit 1; }

# $1: file stem, $2: count as 4 octal escapes (big-endian), $3: count
write_set() {
  printf '\000\000\010\003'"$2"'\000\000\000\034\000\000\000\034' >"$1-images"
  printf '\000\000\010\001'"$2" >"$1-labels"
  n=0
  while [ $n -lt "$3" ]; do
    if [ $((n % 2)) -eq 0 ]; then
      cat on.bin off.bin >>"$1-images"
      printf '\000' >>"$1-labels"
    else
      cat off.bin on.bin >>"$1-images"
      printf '\001' >>"$1-labels"
    fi
    n=$((n + 1))
  done
}
write_set train '\000\000\000\310' 200   # 200 = 0xc8
write_set test '\000\000\000\144' 100    # 100 = 0x64
# The standard names, and the dotted variant for the training images.
mv train-images data/train-images.idx3-ubyte
mv train-labels data/train-labels-idx1-ubyte
mv test-images data/t10k-images-idx3-ubyte
mv test-labels data/t10k-labels-idx1-ubyte
[ "$(wc -c <data/train-images.idx3-ubyte | tr -d ' ')" = $((16 + 200 * 784)) ] || {
  echo "synthetic images have the wrong size" >&2
  exit 1
}

# ---------------------------------------------------------- helpers

# run EXPECTED_CODE NAME CMD...: runs CMD, output in NAME.out / NAME.err.
run() {
  want=$1 name=$2
  shift 2
  "$@" >"$name.out" 2>"$name.err"
  rc=$?
  if [ $rc -ge 128 ]; then
    fail "$name: crashed (exit $rc): $*"
    cat "$name.err" >&2
  elif [ "$want" = any-error ]; then
    if [ $rc -eq 0 ]; then fail "$name: succeeded but should fail: $*"; else ok; fi
  elif [ $rc -ne "$want" ]; then
    fail "$name: exit $rc, expected $want: $*"
    cat "$name.out" "$name.err" >&2
  else
    ok
  fi
  return 0
}

# expect_error EXPECTED_CODE NAME CMD...: fails with a one-line message on stderr.
expect_error() {
  run "$@"
  name=$2
  lines=$(wc -l <"$name.err" | tr -d ' ')
  if [ "$lines" != 1 ]; then
    fail "$name: expected a one-line message on stderr, got $lines lines"
    cat "$name.err" >&2
  elif ! grep -q '^hdrnn_c: ' "$name.err"; then
    fail "$name: the message does not start with 'hdrnn_c: '"
  else
    ok
  fi
  [ -s "$name.out" ] && fail "$name: printed to stdout on error"
  return 0
}

expect_grep() { # PATTERN FILE
  if grep -q -- "$1" "$2"; then ok; else
    fail "'$1' not found in $2:"
    cat "$2" >&2
  fi
}

first_bytes() { # FILE N: the first N bytes as unsigned decimals
  od -An -tu1 -N"$2" "$1" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//'
}

# -------------------------------------------------------- usage
run 0 help "$CLI" --help
expect_grep 'usage: hdrnn_c' help.out
expect_grep 'train' help.out
run 0 help_train "$CLI" train --help
expect_grep 'batch_size' help_train.out
run 2 noargs "$CLI"
expect_grep 'usage' noargs.err

# ------------------------------------------------------------ train
run 0 train "$CLI" train -s 8 -e 3 -bs 10 -lr 3 --seed 1 --threads 2 --data data -n net.nn
expect_grep 'Epoch 1: [0-9]* / 100 ([0-9.]*%) loss [0-9.]* time [0-9.]*s' train.out
expect_grep 'Epoch 3: ' train.out
expect_grep 'Epoch 3: 100 / 100 (100.00%)' train.out
[ -f net.nn ] && ok || fail "train did not write net.nn"
# 784-8-10 in the seed format: 2 + 1 + 4*(8+10) + 4*(784*8 + 8*10) bytes.
size=$(wc -c <net.nn | tr -d ' ')
[ "$size" = 25483 ] && ok || fail "net.nn is $size bytes, expected 25483"
[ "$(first_bytes net.nn 3)" = "7 1 8" ] && ok || fail "net.nn starts $(first_bytes net.nn 3), expected 7 1 8"
ls net.nn.tmp* >/dev/null 2>&1 && fail "a temporary file was left behind"

# The same seed gives the same file; quiet mode prints nothing.
run 0 train_again "$CLI" train -s 8 -e 3 --seed 1 --threads 1 --data data -n net2.nn -q
[ -s train_again.out ] && fail "train -q printed: $(cat train_again.out)"
cmp -s net.nn net2.nn && ok || fail "same seed, different networks (threads 2 vs 1)"

# --limit, two hidden layers, the default net name.
run 0 train_limit "$CLI" train -s 6,5 -e 1 --limit 50 --seed 2 --data data
expect_grep 'on 50 images' train_limit.out
[ "$(first_bytes c-math.nn 4)" = "7 2 6 5" ] && ok || fail "c-math.nn header $(first_bytes c-math.nn 4)"

# A shape the seed format cannot hold goes to v2; --format v2 too.
run 0 train_wide "$CLI" train -s 300 -e 1 --seed 3 --data data -n wide.nn -q
[ "$(first_bytes wide.nn 4)" = "137 72 78 78" ] && ok || fail "wide.nn is not v2: $(first_bytes wide.nn 4)"
run 0 train_v2 "$CLI" train -s 8 -e 2 --seed 1 --data data -n v2.nn --format v2 -q
[ "$(first_bytes v2.nn 4)" = "137 72 78 78" ] && ok || fail "v2.nn is not v2"
expect_error 1 train_force_seed "$CLI" train -s 300 -e 1 --data data -n x.nn --format seed

# ------------------------------------------------------------- eval
run 0 eval "$CLI" eval -n net.nn --data data
expect_grep 'Accuracy: 100 / 100 (100.00%)' eval.out
expect_grep 'Confusion' eval.out
run 0 eval_v2 "$CLI" eval --net v2.nn --data data
expect_grep 'Accuracy: 100 / 100' eval_v2.out

# ------------------------------------------------------------ infer
# P2 (text) with the top half bright: class 0.
{
  printf 'P2\n# top half bright\n28 28\n255\n'
  r=0
  while [ $r -lt 28 ]; do
    c=0
    line=''
    while [ $c -lt 28 ]; do
      if [ $r -lt 14 ]; then line="$line 255"; else line="$line 0"; fi
      c=$((c + 1))
    done
    echo "$line"
    r=$((r + 1))
  done
} >top.pgm
# P5 (binary) with the bottom half bright: class 1.
{
  printf 'P5\n28 28\n255\n'
  cat off.bin on.bin
} >bottom.pgm
run 0 infer_top "$CLI" infer -i top.pgm -n net.nn
expect_grep 'Network predicts 0' infer_top.out
expect_grep '@@@@' infer_top.out
run 0 infer_bottom "$CLI" infer --image bottom.pgm --net net.nn
expect_grep 'Network predicts 1 (score [0-9.]*)' infer_bottom.out

# --------------------------------------------------------- bad input
dd if=net.nn of=trunc.nn bs=1 count=1000 2>/dev/null
printf 'P2\n28 28\n255\n1 2 3\n' >short.pgm
printf 'P2\n3 3\n255\n1 2 3 4 5 6 7 8 9\n' >small.pgm
mkdir -p gz
printf '\037\213\010\000' >gz/train-images-idx3-ubyte.gz
expect_error 2 bad_flag "$CLI" train --bogus
expect_error 2 bad_command "$CLI" frobnicate
expect_error 2 bad_epochs "$CLI" train -e 0 --data data
expect_error 2 bad_epochs_text "$CLI" train -e three --data data
expect_error 2 bad_rate "$CLI" train -lr -1 --data data
expect_error 2 bad_rate_zero "$CLI" train --learning-rate 0 --data data
expect_error 2 bad_rate_nan "$CLI" train --learning_rate nan --data data
expect_error 2 bad_batch "$CLI" train -bs 0 --data data
expect_error 2 bad_shape "$CLI" train -s 0 --data data
expect_error 2 bad_shape_text "$CLI" train -s 16,,16 --data data
expect_error 2 missing_value "$CLI" train --data data -bs
expect_error 2 bad_format "$CLI" train --format v3 --data data
expect_error 2 bad_threads "$CLI" train --threads 5000 --data data
expect_error 2 infer_no_image "$CLI" infer -n net.nn
expect_error 2 eval_extra "$CLI" eval -n net.nn stray
expect_error 2 eval_train_flag "$CLI" eval -e 3
expect_error 1 missing_data "$CLI" train -e 1 --data no-such-dir
expect_error 1 gz_data "$CLI" train -e 1 --data gz
expect_grep 'gunzip' gz_data.err
expect_error 1 missing_net "$CLI" eval -n no-such.nn --data data
expect_error 1 truncated_net "$CLI" eval -n trunc.nn --data data
expect_grep 'truncated' truncated_net.err
expect_error 1 truncated_net_infer "$CLI" infer -n trunc.nn -i top.pgm
expect_error 1 not_a_net "$CLI" infer -n top.pgm -i top.pgm
expect_error 1 missing_image "$CLI" infer -n net.nn -i no-such.pgm
expect_error 1 short_image "$CLI" infer -n net.nn -i short.pgm
expect_error 1 small_image "$CLI" infer -n net.nn -i small.pgm
expect_error 1 not_an_image "$CLI" infer -n net.nn -i net.nn
expect_error 1 eval_missing_data "$CLI" eval -n wide.nn --data no-such-dir
expect_error 1 unwritable "$CLI" train -s 4 -e 1 --data data -n no-such-dir/x.nn -q

echo "cli_smoke: $checks checks passed, $failures failed"
[ $failures -eq 0 ]
