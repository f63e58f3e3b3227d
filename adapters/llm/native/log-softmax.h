// ln p(target) = logit[target] - logsumexp(logits), over one row of llama.cpp's float logits.
// Written as plain fixed-width loops so the compiler vectorises them at -O3 with -fno-trapping-math
// -fno-math-errno (build.ts), never -ffast-math, which would also switch the whole process to
// flush-to-zero when the addon loads. About 0.25 ms per 152k-entry row on baseline x86-64 (SSE2).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace sophont {

// e^x for x <= 0, a Cephes-style range reduction and degree-6 polynomial (about 1 ulp in float).
// Inputs below -87 are clamped: e^-87 is below 1e-37, far under a sum that holds e^0 = 1.
inline float expNonPositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

constexpr int kLanes = 8;

inline float maxOf(const float* x, int32_t n) {
  float lane[kLanes];
  for (int k = 0; k < kLanes; k++) lane[k] = x[0];
  int32_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; k++) lane[k] = x[i + k] > lane[k] ? x[i + k] : lane[k];
  float m = lane[0];
  for (int k = 1; k < kLanes; k++) m = lane[k] > m ? lane[k] : m;
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

// Sum of e^(x[i] - max): each term in float, accumulated in double lanes so 150k terms keep
// about 1e-12 relative error in the sum (the float terms' own error dominates, ~1e-7 each).
inline double sumExpShifted(const float* x, int32_t n, float max) {
  double lane[kLanes] = {0};
  int32_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    float e[kLanes];
    for (int k = 0; k < kLanes; k++) e[k] = expNonPositive(x[i + k] - max);
    for (int k = 0; k < kLanes; k++) lane[k] += e[k];
  }
  double s = 0;
  for (int k = 0; k < kLanes; k++) s += lane[k];
  for (; i < n; i++) s += expNonPositive(x[i] - max);
  return s;
}

inline double logSoftmaxAt(const float* logits, int32_t n, int32_t target) {
  const float max = maxOf(logits, n);
  return (double(logits[target]) - double(max)) - std::log(sumExpShifted(logits, n, max));
}

}  // namespace sophont
