#!/bin/sh
# Rebuilds adapters/llm/english/{lm,embedder}.gguf from Debian packages (see ../SOURCES.md).
# Needs: apt-get install python3-sentencepiece wordnet-base dict-devil dict-jargon python3.11-doc \
#        postgresql-doc-15 sqlite3-doc ; Debian's python3-numpy and python3-torch (/usr/bin/python3).
# Deterministic on one machine: fixed seeds, single-threaded SentencePiece, 2 torch threads.
set -eu
# Debian's torch and numpy link the reference BLAS (about 20 times slower); OpenBLAS is used when
# installed (apt-get install libopenblas0-pthread), with a fixed thread count for the same bytes.
if [ -d /usr/lib/x86_64-linux-gnu/openblas-pthread ]; then
  export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
export OPENBLAS_NUM_THREADS=2
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/tmp/sophont-english-build}
mkdir -p "$work"
/usr/bin/python3 "$here/corpus.py" "$work/corpus"
/usr/bin/python3 "$here/tokenizer.py" "$work/corpus" 8192
# SOPHONT_EMBEDDER=lsa builds the LSA candidate (README) into embedder.gguf instead of the shipped one.
/usr/bin/python3 "$here/weights.py" "$work/corpus" "$work/weights" "lm,${SOPHONT_EMBEDDER:-emb}"
cd "$here/../../../.." && npx tsx adapters/llm/english/build/write.ts "$work/weights" adapters/llm/english "${SOPHONT_WRITE:-lm,emb}"
# SOPHONT_WRITE=emb rewrites embedder.gguf alone (lm.gguf rebuilt on another machine differs in the last bits).
# evaluate.py measures the result: evaluate.py "$work/corpus" "$work/weights" DESCRIPTIONS.jsonl [FORTUNES_DIR]
sha256sum adapters/llm/english/lm.gguf adapters/llm/english/embedder.gguf
