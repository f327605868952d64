#!/usr/bin/env bash
# Builds the libFuzzer targets with clang 14 (-fsanitize=fuzzer,address,undefined)
# and runs each for a bounded time on its corpus (tests/fuzz/corpus/<target>).
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET=20] [TARGET...]
#   tests/fuzz/run.sh 0 spec_fuzz -runs=1000000     # a fixed number of runs instead
#
# Prints, per target, the executions and whether it crashed; exits non-zero on
# any crash, leak or sanitizer report. Crash inputs go to build/fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-20}
shift || true
EXTRA=()
TARGETS=()
for a in "$@"; do
  if [[ "$a" == -* ]]; then EXTRA+=("$a"); else TARGETS+=("$a"); fi
done
((${#TARGETS[@]})) || TARGETS=(spec_fuzz create_study_fuzz safetensors_fuzz vtab_list_fuzz trial_spec_fuzz)

OUT="$ROOT/build/fuzz"
mkdir -p "$OUT/obj" "$OUT/gen" "$OUT/crashes"
CXX=clang++-14
FLAGS=(-std=c++17 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=vptr
       -fno-omit-frame-pointer -I"$ROOT" -I"$OUT/gen" -isystem /usr/include/torch/csrc/api/include
       -Wno-deprecated-declarations)
LINK=(-fsanitize=fuzzer,address,undefined -fno-sanitize=vptr)
ABSL=(-labsl_status -labsl_statusor -labsl_strings -labsl_str_format_internal -labsl_cord
      -labsl_cord_internal -labsl_cordz_info -labsl_cordz_functions -labsl_cordz_handle
      -labsl_synchronization -labsl_time -labsl_int128 -labsl_raw_logging_internal
      -labsl_throw_delegate -labsl_base -labsl_spinlock_wait)
TORCH=(-ltorch -ltorch_cpu -lc10 -lpthread)

# Generated sources, as the Bazel genrules make them.
if [[ ! -f "$OUT/gen/proto/peftsearch.pb.cc" || proto/peftsearch.proto -nt "$OUT/gen/proto/peftsearch.pb.cc" ]]; then
  mkdir -p "$OUT/gen/proto"
  protoc --proto_path=proto --cpp_out="$OUT/gen/proto" --grpc_out="$OUT/gen/proto" \
    --plugin=protoc-gen-grpc="$(which grpc_cpp_plugin)" proto/peftsearch.proto
fi
mkdir -p "$OUT/gen/controller/hybrid"
{ echo 'namespace peftsearch::controller {'; echo 'extern const char kTable9Json[] = R"json(';
  cat controller/hybrid/table9.json; echo ')json";'; echo '}'; } >"$OUT/gen/controller/hybrid/table9_json.cc"

# Compiles one source to an object unless it is up to date; prints the object.
# Any header changed since the object was built counts (a stale object built
# against an older struct layout crashed in ways no input explains).
obj() {
  local src="$1" o="$OUT/obj/$(echo "$1" | tr '/' '_').o"
  if [[ ! -f "$o" || "$src" -nt "$o" ||
        -n "$(find "$ROOT"/{controller,storage,tpe,worker,proto} "$OUT/gen" -name '*.h' -newer "$o" -print -quit)" ]]; then
    "$CXX" "${FLAGS[@]}" -c "$src" -o "$o" >&2
  fi
  echo "$o"
}
lib_sources() {  # non-test sources of the given folders
  for d in "$@"; do
    ls "$d"/*.cc 2>/dev/null | grep -vE '_test\.cc$|/main\.cc$|_main\.cc$|test_util' || true
  done
}

TPE=$(lib_sources tpe)
STORAGE=$(lib_sources storage)
ENGINE="controller/spec.cc controller/strategy_factory.cc controller/single_strategy.cc
        controller/param_codec.cc controller/pruning.cc controller/study_engine.cc
        controller/handler_pool.cc controller/hybrid/hybrid_strategy.cc $OUT/gen/controller/hybrid/table9_json.cc"
# Every controller library source except the binary's main and the server
# runner (the handlers pull in auth and metrics, which change as they grow).
SERVER="$(lib_sources controller | grep -vE 'controller/(server|spec|strategy_factory|single_strategy|param_codec|pruning|study_engine|handler_pool)\.cc$')
        $OUT/gen/proto/peftsearch.pb.cc $OUT/gen/proto/peftsearch.grpc.pb.cc"

build() {
  local target="$1"; shift
  local objs=()
  for s in "tests/fuzz/$target.cc" "$@"; do objs+=("$(obj "$s")"); done
  echo "$objs" >/dev/null
  "$CXX" "${LINK[@]}" "${objs[@]}" "${LIBS[@]}" -o "$OUT/$target"
}

status=0
for t in "${TARGETS[@]}"; do
  echo "== $t: building"
  case "$t" in
    spec_fuzz) LIBS=(-lsqlite3 "${ABSL[@]}"); build "$t" $TPE $STORAGE $ENGINE ;;
    create_study_fuzz) LIBS=(-lgrpc++ -lgrpc -lgpr -lprotobuf -lsqlite3 -lssl -lcrypto "${ABSL[@]}");
                       build "$t" $TPE $STORAGE $ENGINE $SERVER ;;
    safetensors_fuzz) LIBS=("${TORCH[@]}" "${ABSL[@]}"); build "$t" worker/model/safetensors.cc ;;
    vtab_list_fuzz) LIBS=("${ABSL[@]}"); build "$t" worker/data/list_file.cc worker/data/file_util.cc ;;
    trial_spec_fuzz)
      LIBS=("${TORCH[@]}" "${ABSL[@]}")
      build "$t" worker/train/trial_spec.cc worker/model/vim_config.cc worker/model/safetensors.cc \
        worker/data/known_tasks.cc worker/data/pretrain/vim_config_json.cc ;;
    *) echo "unknown target $t"; exit 2 ;;
  esac
  corpus="$ROOT/tests/fuzz/corpus/${t%_fuzz}"
  work="$OUT/corpus-${t%_fuzz}"
  mkdir -p "$work"
  args=(-max_len=65536 -artifact_prefix="$OUT/crashes/$t-" -print_final_stats=1)
  if [[ "$SECONDS_PER_TARGET" != 0 ]]; then args+=(-max_total_time="$SECONDS_PER_TARGET"); fi
  echo "== $t: fuzzing (${SECONDS_PER_TARGET}s)"
  if "$OUT/$t" "${args[@]}" "${EXTRA[@]}" "$work" "$corpus" >"$OUT/$t.log" 2>&1; then
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$OUT/$t.log" | grep -oE '[0-9]+$' || echo "?")
    echo "$t: $runs executions, 0 crashes"
  else
    echo "$t: CRASH or sanitizer report; see $OUT/$t.log and $OUT/crashes/"
    tail -n 30 "$OUT/$t.log"
    status=1
  fi
done
exit $status
