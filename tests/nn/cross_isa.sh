#!/bin/sh
# Bit-exact decoding across implementations and instruction sets (issue 4): payloads coded with
# the default implementation and oneDNN's best ISA must decode to identical latents with oneDNN
# held to AVX2 and to SSE4.1, and with the portable C reference; pixels identical too when the
# model's synthesis is all int8, else within 1 on at most 0.1 % of values (test_neural.c says
# why).
#   tests/nn/cross_isa.sh BUILD_DIR
set -eu
build=${1:?usage: cross_isa.sh BUILD_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/test_neural" emit "$work"
DNNL_MAX_CPU_ISA=AVX2 "$build/test_neural" check "$work"
DNNL_MAX_CPU_ISA=SSE41 "$build/test_neural" check "$work"
AIC_NN_IMPL=ref "$build/test_neural" check "$work"
echo "cross-ISA: identical latents"
