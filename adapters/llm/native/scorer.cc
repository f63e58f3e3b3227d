// Sophont's native perplexity scorer: its own llama_model (mmap) and llama_context on the
// libllama node-llama-cpp loaded, logits at every scored position, and ln p(next token) computed
// here, so only one double per token crosses into JavaScript. Every call that touches llama.cpp
// runs on a libuv worker thread and settles a promise; failures reject, they never abort.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>
#include "napi.h"
#include "llama-api.h"
#include "log-softmax.h"
#include "batch.h"
#include "one-pass.h"

namespace sophont {

static LlamaApi api;
static std::string libllamaPath;
static bool bound = false;

struct State {
  std::mutex mu;
  llama_model* model = nullptr;
  llama_context* ctx = nullptr;
  std::map<std::string, llama_adapter_lora*> adapters;  // by sha256; freed with the model
  PrefixCache prefix;  // what onePass left in sequence 0; score() and setAdapters() invalidate it
  int32_t nVocab = 0;
  uint32_t nCtx = 0, nBatch = 0, nSeqMax = 1;
  void release() {
    if (ctx != nullptr) api.llama_free(ctx);
    if (model != nullptr) api.llama_model_free(model);
    ctx = nullptr, model = nullptr;
    adapters.clear();
    prefix = PrefixCache();
  }
  ~State() { release(); }
};

// Runs `run` on a worker thread (it returns "" or an error message) and settles a promise with `done`.
class Task : public Napi::AsyncWorker {
 public:
  Task(Napi::Env env, std::function<std::string()> run, std::function<Napi::Value(Napi::Env)> done)
      : Napi::AsyncWorker(env, "sophont.scorer"), deferred_(Napi::Promise::Deferred::New(env)),
        run_(std::move(run)), done_(std::move(done)) {}
  static Napi::Promise Start(Napi::Env env, std::function<std::string()> run, std::function<Napi::Value(Napi::Env)> done) {
    auto* task = new Task(env, std::move(run), std::move(done));
    auto promise = task->deferred_.Promise();
    task->Queue();
    return promise;
  }
  void Execute() override {
    std::string error;
    try { error = run_(); } catch (const std::exception& e) { error = e.what(); } catch (...) { error = "unknown native error"; }
    if (!error.empty()) SetError(error);
  }
  void OnOK() override { deferred_.Resolve(done_(Env())); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<std::string()> run_;
  std::function<Napi::Value(Napi::Env)> done_;
};

// Sequences one batch may hold: short windows (a night's log lines) go through llama_decode
// together instead of one call each. The KV cache is unified, so they share its n_ctx cells.
static const uint32_t kMaxPacked = 64;

struct LoadOptions { int32_t gpuLayers = 0; uint32_t contextSize = 2048, batchSize = 512; int32_t threads = 1, flashAttention = 0; };

static std::string load(State& s, const std::string& path, const LoadOptions& o) {
  if (s.model != nullptr) return "the scorer is already loaded";
  llama_model_params mp = api.llama_model_default_params();
  mp.n_gpu_layers = o.gpuLayers;
  mp.load_mode = LLAMA_LOAD_MODE_MMAP;  // shares the weights' pages with node-llama-cpp's load
  mp.lazy_mode = LLAMA_LAZY_MODE_OFF;
  s.model = api.llama_model_load_from_file(path.c_str(), mp);
  if (s.model == nullptr) return "llama.cpp could not load the model " + path;
  llama_context_params cp = api.llama_context_default_params();
  cp.n_ctx = o.contextSize;
  cp.n_batch = cp.n_ubatch = o.batchSize < o.contextSize ? o.batchSize : o.contextSize;
  // llama.cpp reserves an output row per sequence and aborts (GGML_ASSERT) if that exceeds the batch.
  cp.n_seq_max = std::min(kMaxPacked, cp.n_batch);
  cp.kv_unified = true;  // packed windows share the n_ctx cells rather than each taking n_ctx / n_seq_max
  cp.n_threads = cp.n_threads_batch = o.threads;
  // The same attention kernel as the node-llama-cpp context the adapter mirrors (-1 auto, 0 off, 1 on).
  cp.flash_attn_type = o.flashAttention < 0 ? LLAMA_FLASH_ATTN_TYPE_AUTO : o.flashAttention > 0 ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.no_perf = true;
  cp.swa_full = false;
  s.ctx = api.llama_init_from_model(s.model, cp);
  if (s.ctx == nullptr) { s.release(); return "llama.cpp could not create a context of " + std::to_string(o.contextSize) + " tokens"; }
  s.nVocab = api.llama_vocab_n_tokens(api.llama_model_get_vocab(s.model));
  s.nCtx = api.llama_n_ctx(s.ctx);
  s.nBatch = api.llama_n_batch(s.ctx);
  s.nSeqMax = api.llama_n_seq_max(s.ctx);
  return "";
}

struct AdapterSpec { std::string key, path; float scale; };

static std::string setAdapters(State& s, const std::vector<AdapterSpec>& specs) {
  if (s.ctx == nullptr) return "the scorer is not loaded";
  std::vector<llama_adapter_lora*> chosen;
  std::vector<float> scales;
  for (const auto& a : specs) {
    auto it = s.adapters.find(a.key);
    if (it == s.adapters.end()) {
      llama_adapter_lora* lora = api.llama_adapter_lora_init(s.model, a.path.c_str());
      if (lora == nullptr) return "llama.cpp could not load the LoRA adapter " + a.path;
      it = s.adapters.emplace(a.key, lora).first;
    }
    chosen.push_back(it->second);
    scales.push_back(a.scale);
  }
  s.prefix.valid = false;  // the prefix's cached state belongs to the previous weights
  if (api.llama_set_adapters_lora(s.ctx, chosen.data(), chosen.size(), scales.data()) != 0) return "llama.cpp refused the LoRA adapters";
  return "";
}

struct Window { int32_t start, end, scoreFrom; };
enum Mode { kScore = 0, kLogitsOnly = 1, kPlain = 2 };

static std::string checkInput(const State& s, const std::vector<int32_t>& tokens, const std::vector<Window>& windows, int32_t bos) {
  for (size_t i = 0; i < tokens.size(); i++)
    if (tokens[i] < 0 || tokens[i] >= s.nVocab)
      return "token " + std::to_string(tokens[i]) + " at index " + std::to_string(i) + " is outside the vocabulary (0.." + std::to_string(s.nVocab - 1) + ")";
  if (bos >= s.nVocab) return "BOS token " + std::to_string(bos) + " is outside the vocabulary";
  const int32_t n = static_cast<int32_t>(tokens.size()), first = bos >= 0 ? 0 : 1;
  for (const auto& w : windows) {
    if (w.start < 0 || w.end <= w.start || w.end > n || w.scoreFrom < w.start + first || w.scoreFrom > w.end)
      return "bad window [" + std::to_string(w.start) + ", " + std::to_string(w.end) + ") scoring from " + std::to_string(w.scoreFrom);
    const uint32_t len = static_cast<uint32_t>(w.end - w.start + (bos >= 0 ? 1 : 0));
    if (len > s.nCtx) return "a window of " + std::to_string(len) + " tokens does not fit the context of " + std::to_string(s.nCtx);
  }
  return "";
}

// Which target a batch position predicts, and whether it is scored.
struct Slot { int32_t target; bool scored; };

// Fills the batch arrays for input positions [from, from + count) of window w in sequence `seq`,
// starting at batch index `at`. Input index i holds tokens[i + offset] (index 0 is BOS when there
// is one) and predicts tokens[i + 1 + offset].
struct Batch : BatchArrays {
  std::vector<Slot> slots;
  explicit Batch(uint32_t size) : BatchArrays(size), slots(size) {}
  void add(const std::vector<int32_t>& tokens, const Window& w, int32_t bos, Mode mode, llama_seq_id seq, int32_t from, int32_t count) {
    const int32_t hasBos = bos >= 0 ? 1 : 0, m = w.end - w.start + hasBos, offset = w.start - hasBos;
    for (int32_t i = from; i < from + count; i++, n++) {
      const int32_t target = i + 1 + offset;
      tok[n] = (i == 0 && hasBos) ? bos : tokens[i + offset];
      pos[n] = i;
      seqId[n] = seq;
      const bool scored = target >= w.scoreFrom && target < w.end;
      slots[n] = {target, scored};
      want[n] = mode == kPlain ? (i == m - 1) : scored;
    }
  }
};

// Decodes what the batch holds and appends ln p(target) of its scored positions, in batch order.
static std::string run(State& s, Batch& b, const std::vector<int32_t>& tokens, Mode mode, std::vector<double>& out) {
  const int32_t rc = api.llama_decode(s.ctx, b.view());
  if (rc != 0) return "llama_decode failed with code " + std::to_string(rc);
  for (int32_t k = 0; k < b.n; k++) {
    if (mode == kPlain || !b.slots[k].scored) continue;
    const float* logits = api.llama_get_logits_ith(s.ctx, k);
    if (logits == nullptr) return "llama.cpp returned no logits for batch position " + std::to_string(k);
    out.push_back(mode == kScore ? logSoftmaxAt(logits, s.nVocab, tokens[b.slots[k].target]) : 0.0);
  }
  b.n = 0;
  return "";
}

// Every window is scored on a cleared KV cache, as its own sequence. Windows that fit a batch
// together are packed into one llama_decode; a window longer than a batch goes alone, in chunks.
// The results come out in window order either way.
static std::string score(State& s, const std::vector<int32_t>& tokens, const std::vector<Window>& windows, int32_t bos, Mode mode, std::vector<double>& out) {
  if (s.ctx == nullptr) return "the scorer is not loaded (or was disposed)";
  std::string bad = checkInput(s, tokens, windows, bos);
  if (!bad.empty()) return bad;
  // The windows reuse every sequence, the prefix's too: a prefix onePass left in sequence 0 is dropped
  // first (windows start at position 0 of a sequence that must be empty).
  if (s.prefix.valid) api.llama_memory_clear(api.llama_get_memory(s.ctx), true);
  s.prefix.valid = false;
  const int32_t size = static_cast<int32_t>(s.nBatch), hasBos = bos >= 0 ? 1 : 0;
  const int32_t packs = static_cast<int32_t>(std::min<uint32_t>(kMaxPacked, s.nSeqMax));
  Batch b(s.nBatch);
  auto* mem = api.llama_get_memory(s.ctx);
  int32_t seqs = 0;
  const auto flush = [&]() -> std::string {
    if (b.n == 0) return "";
    std::string e = run(s, b, tokens, mode, out);
    api.llama_memory_clear(mem, true);
    seqs = 0;
    return e;
  };
  for (const auto& w : windows) {
    const int32_t m = w.end - w.start + hasBos;
    if (m <= size) {
      if (b.n + m > size || seqs == packs) { std::string e = flush(); if (!e.empty()) return e; }
      b.add(tokens, w, bos, mode, seqs++, 0, m);
      continue;
    }
    std::string e = flush();
    if (!e.empty()) return e;
    for (int32_t from = 0; from < m; from += size) {
      b.add(tokens, w, bos, mode, 0, from, std::min(size, m - from));
      e = run(s, b, tokens, mode, out);
      if (!e.empty()) return e;
    }
    api.llama_memory_clear(mem, true);
  }
  return flush();
}

class Scorer : public Napi::ObjectWrap<Scorer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Scorer", {
      InstanceMethod<&Scorer::Load>("load"), InstanceMethod<&Scorer::SetAdapters>("setAdapters"),
      InstanceMethod<&Scorer::Score>("score"), InstanceMethod<&Scorer::OnePassCall>("onePass"), InstanceMethod<&Scorer::Dispose>("dispose"),
      InstanceAccessor<&Scorer::VocabSize>("vocabSize"), InstanceAccessor<&Scorer::ContextSize>("contextSize"),
    });
  }
  explicit Scorer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Scorer>(info), state_(std::make_shared<State>()) {
    if (!bound) throw Napi::Error::New(info.Env(), "call bind() before creating a Scorer");
  }

 private:
  std::shared_ptr<State> state_;

  // Every task holds the state (so a collected wrapper cannot free it mid-call) and its lock.
  Napi::Value Run(Napi::Env env, std::function<std::string(State&)> run, std::function<Napi::Value(Napi::Env)> done) {
    auto st = state_;
    return Task::Start(env, [st, run]() { std::lock_guard<std::mutex> lock(st->mu); return run(*st); }, std::move(done));
  }
  static Napi::Value Undefined(Napi::Env env) { return env.Undefined(); }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    const std::string path = info[0].As<Napi::String>();
    const Napi::Object o = info[1].As<Napi::Object>();
    LoadOptions opts;
    opts.gpuLayers = o.Get("gpuLayers").As<Napi::Number>().Int32Value();
    opts.contextSize = o.Get("contextSize").As<Napi::Number>().Uint32Value();
    opts.batchSize = o.Get("batchSize").As<Napi::Number>().Uint32Value();
    opts.threads = o.Get("threads").As<Napi::Number>().Int32Value();
    opts.flashAttention = o.Get("flashAttention").As<Napi::Number>().Int32Value();
    return Run(info.Env(), [path, opts](State& s) { return load(s, path, opts); }, Undefined);
  }

  Napi::Value SetAdapters(const Napi::CallbackInfo& info) {
    const Napi::Array list = info[0].As<Napi::Array>();
    std::vector<AdapterSpec> specs;
    for (uint32_t i = 0; i < list.Length(); i++) {
      const Napi::Object a = list.Get(i).As<Napi::Object>();
      specs.push_back({a.Get("key").As<Napi::String>(), a.Get("path").As<Napi::String>(), a.Get("scale").As<Napi::Number>().FloatValue()});
    }
    return Run(info.Env(), [specs](State& s) { return setAdapters(s, specs); }, Undefined);
  }

  Napi::Value Score(const Napi::CallbackInfo& info) {
    const Napi::Int32Array t = info[0].As<Napi::Int32Array>(), w = info[1].As<Napi::Int32Array>();
    if (w.ElementLength() % 3 != 0) throw Napi::RangeError::New(info.Env(), "windows must be [start, end, scoreFrom] triples");
    std::vector<int32_t> tokens(t.Data(), t.Data() + t.ElementLength());
    std::vector<Window> windows;
    for (size_t i = 0; i < w.ElementLength(); i += 3) windows.push_back({w[i], w[i + 1], w[i + 2]});
    const int32_t bos = info[2].As<Napi::Number>().Int32Value();
    const Mode mode = static_cast<Mode>(info.Length() > 3 ? info[3].As<Napi::Number>().Int32Value() : 0);
    auto out = std::make_shared<std::vector<double>>();
    return Run(info.Env(), [tokens, windows, bos, mode, out](State& s) { return score(s, tokens, windows, bos, mode, *out); },
               [out](Napi::Env env) -> Napi::Value {
                 auto result = Napi::Float64Array::New(env, out->size());
                 std::copy(out->begin(), out->end(), result.Data());
                 return result;
               });
  }

  static std::vector<int32_t> ints(const Napi::Value& v) {
    const Napi::Int32Array a = v.As<Napi::Int32Array>();
    return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
  }
  template <typename T> static Napi::Value typed(Napi::Env env, const std::vector<T>& v) {
    using Array = typename std::conditional<std::is_same<T, double>::value, Napi::Float64Array, Napi::Int32Array>::type;
    auto a = Array::New(env, v.size());
    std::copy(v.begin(), v.end(), a.Data());
    return a;
  }

  // onePass(prefix, [{text, closing, maxTokens}], {grammar, root, timeoutMs, probes}) -> {prefixEvaluated, items}
  Napi::Value OnePassCall(const Napi::CallbackInfo& info) {
    const std::vector<int32_t> prefix = ints(info[0]);
    const Napi::Array list = info[1].As<Napi::Array>();
    std::vector<PassItem> items;
    for (uint32_t i = 0; i < list.Length(); i++) {
      const Napi::Object o = list.Get(i).As<Napi::Object>();
      items.push_back({ints(o.Get("text")), ints(o.Get("closing")), o.Get("maxTokens").As<Napi::Number>().Int32Value()});
      if (items.back().maxTokens < 1) throw Napi::RangeError::New(info.Env(), "maxTokens must be at least 1");
    }
    const Napi::Object oo = info[2].As<Napi::Object>();
    PassOptions opts;
    opts.grammar = oo.Get("grammar").As<Napi::String>();
    opts.root = oo.Get("root").As<Napi::String>();
    opts.timeoutMs = oo.Get("timeoutMs").As<Napi::Number>().DoubleValue();
    opts.probes = ints(oo.Get("probes"));
    auto out = std::make_shared<std::vector<PassResult>>();
    auto prefixEvaluated = std::make_shared<int32_t>(0);
    return Run(info.Env(), [prefix, items, opts, out, prefixEvaluated](State& s) -> std::string {
      if (s.ctx == nullptr) return "the scorer is not loaded (or was disposed)";
      OnePass pass(api, s.ctx, s.model, s.nCtx, s.nBatch, s.nSeqMax, s.prefix);
      std::string e = pass.run(prefix, items, opts, *out, *prefixEvaluated);
      if (!e.empty()) s.prefix.valid = false;
      return e;
    }, [out, prefixEvaluated](Napi::Env env) -> Napi::Value {
      auto result = Napi::Object::New(env);
      auto arr = Napi::Array::New(env, out->size());
      for (size_t i = 0; i < out->size(); i++) {
        const PassResult& r = (*out)[i];
        auto o = Napi::Object::New(env);
        o.Set("logProbs", typed(env, r.logProbs));
        o.Set("answer", typed(env, r.answer));
        o.Set("rawLogProbs", typed(env, r.rawLogProbs));
        o.Set("grammarLogProbs", typed(env, r.grammarLogProbs));
        o.Set("stop", Napi::Number::New(env, r.stop));
        o.Set("evaluated", Napi::Number::New(env, r.evaluated));
        arr.Set(static_cast<uint32_t>(i), o);
      }
      result.Set("prefixEvaluated", Napi::Number::New(env, *prefixEvaluated));
      result.Set("items", arr);
      return result;
    });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    return Run(info.Env(), [](State& s) { s.release(); return std::string(); }, Undefined);
  }

  Napi::Value VocabSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), state_->nVocab); }
  Napi::Value ContextSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), state_->nCtx); }
};

// bind() -> the path of the libllama node-llama-cpp loaded; throws when there is none to bind to.
static Napi::Value Bind(const Napi::CallbackInfo& info) {
  if (!bound) {
    const std::string error = bindLoadedLlama(api, libllamaPath);
    if (!error.empty()) throw Napi::Error::New(info.Env(), error);
    bound = true;
  }
  return Napi::String::New(info.Env(), libllamaPath);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("bind", Napi::Function::New(env, Bind));
  exports.Set("Scorer", Scorer::Define(env));
  return exports;
}

}  // namespace sophont

static Napi::Object InitScorer(Napi::Env env, Napi::Object exports) { return sophont::Init(env, exports); }
NODE_API_MODULE(sophont_scorer, InitScorer)
