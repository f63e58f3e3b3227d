#!/bin/sh
# Builds the target-logprob prototype into node_modules/.cache/sophont-native/ (Linux x64 only).
# Needs g++, Node's headers, and llama.h from the llama.cpp source bundled in node-llama-cpp.
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
nlc="$root/node_modules/node-llama-cpp"
bins="$root/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
out="$root/node_modules/.cache/sophont-native"
src="$out/llama-src"
mkdir -p "$out"
if [ ! -f "$src/include/llama.h" ]; then
  rm -rf "$src"
  git clone -q --no-checkout "$nlc/llama/gitRelease.bundle" "$src"
  git -C "$src" checkout -q HEAD -- include/llama.h ggml/include
fi
nodeinc=$(dirname "$(command -v node)")/../include/node
[ -f "$nodeinc/node_api.h" ] || nodeinc=/usr/include/node
g++ -O2 -std=c++17 -shared -fPIC -DNAPI_DISABLE_CPP_EXCEPTIONS -DNAPI_VERSION=8 \
  -I"$nodeinc" -I"$root/node_modules/node-addon-api" -I"$src/include" -I"$src/ggml/include" \
  "$(dirname "$0")/target-logprob.cc" -o "$out/target-logprob.node" \
  -L"$bins" -l:libllama.v0.4.0.so -Wl,-rpath,"$bins"
echo "$out/target-logprob.node"
