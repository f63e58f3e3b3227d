// Prototype: log-softmax of one target token, computed next to llama.cpp's logits, for
// node-llama-cpp 3.21.1 (pinned). It reads the llama_context* out of node-llama-cpp's own
// AddonContext object, so it depends on that class's member layout: rebuild and re-check
// whenever node-llama-cpp changes. Built by build.sh against the headers of the llama.cpp
// source node-llama-cpp bundles, linked to the libllama node-llama-cpp already loaded.
#include <cmath>
#include "napi.h"
#include "llama.h"

class AddonModel;

// Mirrors the first members of node-llama-cpp's AddonContext (llama/addon/AddonContext.h).
class AddonContextLayout : public Napi::ObjectWrap<AddonContextLayout> {
 public:
  AddonModel* model;
  llama_context_params context_params;
  llama_context* ctx = nullptr;
};

// targetLogProb(addonContext, batchLogitIndex, targetToken) -> ln p(target)
static Napi::Value TargetLogProb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* raw = nullptr;
  if (napi_unwrap(env, info[0], &raw) != napi_ok || raw == nullptr) {
    Napi::TypeError::New(env, "not a node-llama-cpp AddonContext").ThrowAsJavaScriptException();
    return env.Null();
  }
  llama_context* ctx = static_cast<AddonContextLayout*>(raw)->ctx;
  const int32_t index = info[1].As<Napi::Number>().Int32Value();
  const int32_t target = info[2].As<Napi::Number>().Int32Value();
  const int32_t n = llama_vocab_n_tokens(llama_model_get_vocab(llama_get_model(ctx)));
  const float* logits = llama_get_logits_ith(ctx, index);
  if (logits == nullptr || target < 0 || target >= n) {
    Napi::RangeError::New(env, "no logits at that batch index, or target out of range").ThrowAsJavaScriptException();
    return env.Null();
  }
  float max = logits[0];
  for (int32_t i = 1; i < n; i++) max = logits[i] > max ? logits[i] : max;
  double sum = 0;
  for (int32_t i = 0; i < n; i++) sum += std::exp(double(logits[i] - max));
  return Napi::Number::New(env, double(logits[target] - max) - std::log(sum));
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("targetLogProb", Napi::Function::New(env, TargetLogProb));
  return exports;
}

NODE_API_MODULE(sophont_target_logprob, Init)
