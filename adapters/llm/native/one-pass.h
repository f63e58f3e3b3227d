// One evaluation per input on an instruction model: a shared prefix (BOS, the chat template's
// system turn, the user turn's opening) decoded once into sequence 0 and copied into each working
// sequence; then each text (ln p of every text token, conditioned on the prefix), the template's
// closing tokens, and a greedy answer under a GBNF grammar, several sequences in lockstep, one
// batch per step; then each working sequence is erased, leaving the prefix for the next call.
#pragma once
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>
#include "llama-api.h"
#include "batch.h"
#include "log-softmax.h"

namespace sophont {

enum Stop { kStopEog = 0, kStopMaxTokens = 1, kStopTimeout = 2, kStopGrammar = 3 };

struct PassItem {
  std::vector<int32_t> text, closing;
  int32_t maxTokens = 0;
};

struct PassResult {
  std::vector<double> logProbs;        // ln p(text[j] | prefix, text[0..j)), one per text token
  std::vector<int32_t> answer;         // generated tokens, the end-of-generation token excluded
  std::vector<double> rawLogProbs;     // ln p(answer[k]) under the model alone
  std::vector<double> grammarLogProbs; // ln p(answer[k]) renormalised over what the grammar allows; NaN: not computed
  int32_t stop = kStopEog;
  int32_t evaluated = 0;               // tokens this item put through llama_decode
};

struct PassOptions {
  std::string grammar, root;
  double timeoutMs = 60000;
  std::vector<int32_t> probes;  // tokens whose grammar probability is wanted even when the raw argmax is allowed
};

// What stays between calls: the prefix in sequence 0 and the logits after its last token.
struct PrefixCache {
  std::vector<int32_t> tokens;
  std::vector<float> lastLogits;
  bool valid = false;
};

struct Sampler {
  llama_sampler* s = nullptr;
  const LlamaApi* api = nullptr;
  ~Sampler() { if (s != nullptr) api->llama_sampler_free(s); }
};

class OnePass {
 public:
  OnePass(const LlamaApi& api, llama_context* ctx, const llama_model* model, uint32_t nCtx, uint32_t nBatch, uint32_t nSeqMax, PrefixCache& cache)
      : api_(api), ctx_(ctx), vocab_(api.llama_model_get_vocab(model)), nVocab_(api.llama_vocab_n_tokens(vocab_)),
        nCtx_(nCtx), nBatch_(nBatch), nSeqMax_(nSeqMax), cache_(cache), mem_(api.llama_get_memory(ctx)) {}

  // Returns "" or an error; `prefixEvaluated` is 0 when sequence 0 already held this prefix.
  std::string run(const std::vector<int32_t>& prefix, const std::vector<PassItem>& items, const PassOptions& o,
                  std::vector<PassResult>& out, int32_t& prefixEvaluated) {
    std::string e = check(prefix, items);
    if (!e.empty()) return e;
    base_ = std::unique_ptr<Sampler>(new Sampler{api_.llama_sampler_init_grammar(vocab_, o.grammar.c_str(), o.root.c_str()), &api_});
    if (base_->s == nullptr) return "llama.cpp could not parse the answer's grammar";
    probe_.assign(nVocab_, 0);
    for (int32_t t : o.probes) if (t >= 0 && t < nVocab_) probe_[t] = 1;
    for (uint32_t k = 1; k < nSeqMax_; k++) api_.llama_memory_seq_rm(mem_, k, -1, -1);
    prefixEvaluated = 0;
    if (!cache_.valid || cache_.tokens != prefix) {
      e = decodePrefix(prefix);
      if (!e.empty()) return e;
      prefixEvaluated = static_cast<int32_t>(prefix.size());
    }
    out.assign(items.size(), PassResult());
    for (size_t from = 0; from < items.size();) {
      size_t to = from;
      uint32_t cells = 0;
      while (to < items.size() && to - from < nSeqMax_ - 1) {
        const uint32_t need = need_(items[to]);
        if (to > from && cells + need > nCtx_ - prefix.size()) break;
        cells += need, to++;
      }
      e = group(items, from, to, o, out);
      for (size_t i = from; i < to; i++) api_.llama_memory_seq_rm(mem_, static_cast<llama_seq_id>(1 + i - from), -1, -1);
      if (!e.empty()) return e;
      from = to;
    }
    return "";
  }

 private:
  struct Live { size_t item; llama_seq_id seq; llama_pos pos; std::unique_ptr<Sampler> grammar; bool active; };

  const LlamaApi& api_;
  llama_context* ctx_;
  const llama_vocab* vocab_;
  int32_t nVocab_;
  uint32_t nCtx_, nBatch_, nSeqMax_;
  PrefixCache& cache_;
  llama_memory_t mem_;
  std::unique_ptr<Sampler> base_;
  std::vector<char> probe_;
  std::vector<llama_token_data> cand_;

  static uint32_t need_(const PassItem& it) { return static_cast<uint32_t>(it.text.size() + it.closing.size() + it.maxTokens); }

  std::string check(const std::vector<int32_t>& prefix, const std::vector<PassItem>& items) const {
    if (prefix.empty()) return "the prefix is empty";
    if (nSeqMax_ < 2) return "the scorer's context has no sequence to work in besides the prefix";
    const auto bad = [&](const std::vector<int32_t>& v) { for (int32_t t : v) if (t < 0 || t >= nVocab_) return true; return false; };
    if (bad(prefix)) return "a prefix token is outside the vocabulary";
    for (size_t i = 0; i < items.size(); i++) {
      const auto& it = items[i];
      if (it.text.empty() || it.closing.empty()) return "item " + std::to_string(i) + " has an empty text or closing";
      if (bad(it.text) || bad(it.closing)) return "item " + std::to_string(i) + " has a token outside the vocabulary";
      if (prefix.size() + need_(it) > nCtx_)
        return "item " + std::to_string(i) + " needs " + std::to_string(prefix.size() + need_(it)) + " cells, the context has " + std::to_string(nCtx_);
    }
    return "";
  }

  std::string decode(llama_batch b) {
    const int32_t rc = api_.llama_decode(ctx_, b);
    return rc == 0 ? "" : "llama_decode failed with code " + std::to_string(rc);
  }

  std::string decodePrefix(const std::vector<int32_t>& prefix) {
    api_.llama_memory_clear(mem_, true);
    cache_.valid = false;
    std::vector<llama_token> tok(nBatch_);
    std::vector<llama_pos> pos(nBatch_);
    std::vector<int32_t> nSeq(nBatch_, 1);
    std::vector<llama_seq_id> seq(nBatch_, 0);
    std::vector<llama_seq_id*> seqs(nBatch_);
    std::vector<int8_t> want(nBatch_, 0);
    for (uint32_t k = 0; k < nBatch_; k++) seqs[k] = &seq[k];
    const int32_t n = static_cast<int32_t>(prefix.size());
    for (int32_t from = 0; from < n; from += nBatch_) {
      const int32_t m = std::min<int32_t>(nBatch_, n - from);
      for (int32_t i = 0; i < m; i++) { tok[i] = prefix[from + i]; pos[i] = from + i; want[i] = from + i == n - 1; }
      std::string e = decode(llama_batch{m, tok.data(), nullptr, pos.data(), nSeq.data(), seqs.data(), want.data()});
      if (!e.empty()) return e;
    }
    const float* logits = api_.llama_get_logits_ith(ctx_, -1);
    if (logits == nullptr) return "llama.cpp returned no logits after the prefix";
    cache_.lastLogits.assign(logits, logits + nVocab_);
    cache_.tokens = prefix;
    cache_.valid = true;
    return "";
  }

  // Greedy under the grammar: the raw argmax when the grammar allows it (one candidate to check), else the
  // best of what it allows (every candidate checked). Returns false when the grammar allows nothing.
  bool pick(Live& l, const float* logits, PassResult& r) {
    int32_t best = 0;
    for (int32_t t = 1; t < nVocab_; t++) if (logits[t] > logits[best]) best = t;
    llama_token_data one{best, logits[best], 0.0f};
    llama_token_data_array a1{&one, 1, -1, false};
    api_.llama_sampler_apply(l.grammar->s, &a1);
    const bool allowed = std::isfinite(one.logit);
    double lpGrammar = NAN;
    if (!allowed || probe_[best]) {
      cand_.resize(nVocab_);
      for (int32_t t = 0; t < nVocab_; t++) cand_[t] = llama_token_data{t, logits[t], 0.0f};
      llama_token_data_array all{cand_.data(), cand_.size(), -1, false};
      api_.llama_sampler_apply(l.grammar->s, &all);
      int32_t chosen = -1;
      float max = -INFINITY;
      for (size_t k = 0; k < all.size; k++) if (all.data[k].logit > max) max = all.data[k].logit, chosen = all.data[k].id;
      if (chosen < 0) return false;
      double sum = 0;
      for (size_t k = 0; k < all.size; k++) if (std::isfinite(all.data[k].logit)) sum += std::exp(double(all.data[k].logit) - max);
      best = chosen;
      lpGrammar = -std::log(sum);
    }
    api_.llama_sampler_accept(l.grammar->s, best);
    r.rawLogProbs.push_back(logSoftmaxAt(logits, nVocab_, best));
    r.grammarLogProbs.push_back(lpGrammar);
    r.answer.push_back(best);
    return true;
  }

  // Samples the next answer token of `l` from `logits`; deactivates it when it ends.
  void step(Live& l, const float* logits, const PassItem& it, PassResult& r) {
    bool ok;
    try { ok = pick(l, logits, r); } catch (...) { ok = false; }
    if (!ok) { r.stop = kStopGrammar, l.active = false; return; }
    if (api_.llama_vocab_is_eog(vocab_, r.answer.back())) {
      r.answer.pop_back(), r.rawLogProbs.pop_back(), r.grammarLogProbs.pop_back();
      r.stop = kStopEog, l.active = false;
    } else if (static_cast<int32_t>(r.answer.size()) >= it.maxTokens) {
      r.stop = kStopMaxTokens, l.active = false;
    }
  }

  std::string group(const std::vector<PassItem>& items, size_t from, size_t to, const PassOptions& o, std::vector<PassResult>& out) {
    const llama_pos p0 = static_cast<llama_pos>(cache_.tokens.size());
    std::vector<Live> live;
    for (size_t i = from; i < to; i++) {
      const auto seq = static_cast<llama_seq_id>(1 + i - from);
      api_.llama_memory_seq_cp(mem_, 0, seq, -1, -1);
      live.push_back(Live{i, seq, p0, std::unique_ptr<Sampler>(new Sampler{api_.llama_sampler_clone(base_->s), &api_}), true});
      if (live.back().grammar->s == nullptr) return "llama.cpp could not copy the grammar sampler";
      out[i].logProbs.push_back(logSoftmaxAt(cache_.lastLogits.data(), nVocab_, items[i].text[0]));
    }
    std::string e = prefill(items, live, out);
    if (!e.empty()) return e;
    return generate(items, live, o, out);
  }

  // What one batch position is: which live item, and which of its tokens (text, then closing).
  struct Slot { size_t live; int32_t index; };

  std::string prefill(const std::vector<PassItem>& items, std::vector<Live>& live, std::vector<PassResult>& out) {
    BatchArrays f(nBatch_);
    std::vector<Slot> slots(nBatch_);
    const auto flush = [&]() -> std::string {
      if (f.n == 0) return "";
      std::string e = decode(f.view());
      if (!e.empty()) return e;
      for (int32_t k = 0; k < f.n; k++) {
        if (!f.want[k]) continue;
        Live& l = live[slots[k].live];
        const PassItem& it = items[l.item];
        const float* logits = api_.llama_get_logits_ith(ctx_, k);
        if (logits == nullptr) return "llama.cpp returned no logits for batch position " + std::to_string(k);
        const int32_t j = slots[k].index, t = static_cast<int32_t>(it.text.size());
        if (j + 1 < t) out[l.item].logProbs.push_back(logSoftmaxAt(logits, nVocab_, it.text[j + 1]));
        else step(l, logits, it, out[l.item]);  // the closing's last token: the answer's first
      }
      f.n = 0;
      return "";
    };
    for (size_t li = 0; li < live.size(); li++) {
      Live& l = live[li];
      const PassItem& it = items[l.item];
      const int32_t t = static_cast<int32_t>(it.text.size()), m = t + static_cast<int32_t>(it.closing.size());
      for (int32_t j = 0; j < m; j++) {
        if (f.n == static_cast<int32_t>(nBatch_)) { std::string e = flush(); if (!e.empty()) return e; }
        slots[f.n] = {li, j};
        f.add(j < t ? it.text[j] : it.closing[j - t], l.pos++, l.seq, j + 1 < t || j == m - 1);
        out[l.item].evaluated++;
      }
    }
    return flush();
  }

  std::string generate(const std::vector<PassItem>& items, std::vector<Live>& live, const PassOptions& o, std::vector<PassResult>& out) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<int64_t>(o.timeoutMs * 1000));
    BatchArrays f(nBatch_);
    std::vector<size_t> who(nBatch_);
    for (;;) {
      f.n = 0;
      for (size_t li = 0; li < live.size(); li++) {
        Live& l = live[li];
        if (!l.active) continue;
        if (std::chrono::steady_clock::now() >= deadline) { out[l.item].stop = kStopTimeout, l.active = false; continue; }
        who[f.n] = li;
        f.add(out[l.item].answer.back(), l.pos++, l.seq, true);
        out[l.item].evaluated++;
      }
      if (f.n == 0) return "";
      std::string e = decode(f.view());
      if (!e.empty()) return e;
      for (int32_t k = 0; k < f.n; k++) {
        Live& l = live[who[k]];
        const float* logits = api_.llama_get_logits_ith(ctx_, k);
        if (logits == nullptr) return "llama.cpp returned no logits for batch position " + std::to_string(k);
        step(l, logits, items[l.item], out[l.item]);
      }
    }
  }
};

}  // namespace sophont
