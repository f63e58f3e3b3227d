// A llama_batch's arrays, one sequence id per position: what the scorer's windows and the one-pass
// path both fill and hand to llama_decode.
#pragma once
#include <cstdint>
#include <vector>
#include "llama-api.h"

struct BatchArrays {
  std::vector<llama_token> tok;
  std::vector<llama_pos> pos;
  std::vector<int32_t> nSeq;
  std::vector<llama_seq_id> seqId;
  std::vector<llama_seq_id*> seqs;
  std::vector<int8_t> want;
  int32_t n = 0;
  explicit BatchArrays(uint32_t size) : tok(size), pos(size), nSeq(size, 1), seqId(size), seqs(size), want(size) {
    for (uint32_t k = 0; k < size; k++) seqs[k] = &seqId[k];
  }
  void add(llama_token t, llama_pos p, llama_seq_id s, bool logits) { tok[n] = t, pos[n] = p, seqId[n] = s, want[n] = logits; n++; }
  llama_batch view() { return llama_batch{n, tok.data(), nullptr, pos.data(), nSeq.data(), seqs.data(), want.data()}; }
};
