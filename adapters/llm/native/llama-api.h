// The part of llama.h's public C API the scorer calls, resolved at run time from the libllama
// that node-llama-cpp has already loaded into this process. Nothing is linked: node-llama-cpp
// may have picked any of its variants (CPU, CUDA, Vulkan, Metal), each with its own file name,
// and binding to that exact image keeps one libllama and one ggml backend registry per process.
#pragma once
#include <string>
#include <dlfcn.h>
#include "llama.h"
#if defined(__APPLE__)
#include <mach-o/dyld.h>
#else
#include <link.h>
#endif

namespace sophont {

#define SOPHONT_LLAMA_FUNCTIONS(X)                                               \
  X(llama_model_default_params) X(llama_context_default_params)                 \
  X(llama_model_load_from_file) X(llama_model_free) X(llama_init_from_model)    \
  X(llama_free) X(llama_n_ctx) X(llama_n_batch) X(llama_n_seq_max) X(llama_get_memory) \
  X(llama_memory_clear) X(llama_model_get_vocab) X(llama_vocab_n_tokens)        \
  X(llama_decode) X(llama_get_logits_ith) X(llama_adapter_lora_init)            \
  X(llama_set_adapters_lora) X(llama_memory_seq_cp) X(llama_memory_seq_rm)       \
  X(llama_vocab_is_eog) X(llama_sampler_init_grammar) X(llama_sampler_clone)    \
  X(llama_sampler_apply) X(llama_sampler_accept) X(llama_sampler_free)

struct LlamaApi {
#define SOPHONT_FIELD(name) decltype(&::name) name = nullptr;
  SOPHONT_LLAMA_FUNCTIONS(SOPHONT_FIELD)
#undef SOPHONT_FIELD
};

inline bool isLibllamaName(const std::string& path) {
  const std::string base = path.substr(path.find_last_of('/') + 1);
  if (base.rfind("libllama", 0) != 0 || base.rfind("libllama-", 0) == 0) return false;
  return base.find(".so") != std::string::npos || base.find(".dylib") != std::string::npos;
}

// The file name of the libllama image already mapped into this process, or "" if none is.
inline std::string findLoadedLibllama() {
  std::string found;
#if defined(__APPLE__)
  for (uint32_t i = 0, n = _dyld_image_count(); i < n && found.empty(); i++) {
    const char* name = _dyld_get_image_name(i);
    if (name != nullptr && isLibllamaName(name)) found = name;
  }
#else
  dl_iterate_phdr([](dl_phdr_info* info, size_t, void* out) -> int {
    if (info->dlpi_name == nullptr || !isLibllamaName(info->dlpi_name)) return 0;
    *static_cast<std::string*>(out) = info->dlpi_name;
    return 1;
  }, &found);
#endif
  return found;
}

// Fills `api` from the loaded libllama; returns "" or what went wrong. RTLD_NOLOAD: never load a
// second copy, only take another reference to the image node-llama-cpp loaded.
inline std::string bindLoadedLlama(LlamaApi& api, std::string& path) {
  path = findLoadedLibllama();
  if (path.empty()) return "no libllama is loaded in this process (load node-llama-cpp's runtime first)";
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (handle == nullptr) return "cannot reopen " + path + ": " + dlerror();
#define SOPHONT_BIND(name)                                                           \
  api.name = reinterpret_cast<decltype(&::name)>(dlsym(handle, #name));              \
  if (api.name == nullptr) return path + " does not export " #name " (a different llama.cpp release?)";
  SOPHONT_LLAMA_FUNCTIONS(SOPHONT_BIND)
#undef SOPHONT_BIND
  return "";
}

}  // namespace sophont
