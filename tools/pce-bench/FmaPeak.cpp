//===- FmaPeak.cpp - the machine's fp32 FMA throughput, measured ----------===//
//
// Independent accumulator chains of vector FMAs: with two FMA ports and a
// 4-5 cycle latency, ~10 chains keep every port busy, so the loop runs at the
// core's FMA throughput. Built with target attributes (not global -mavx2) so
// the rest of the tool runs anywhere. Where the CPU has AVX-512 both widths
// are tried and the faster one is the peak (on AMD Zen 4 a 512-bit FMA is two
// 256-bit halves, so they should tie; elsewhere 512 bits may be faster).
//
//===----------------------------------------------------------------------===//

#include "tools/pce-bench/FmaPeak.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace pce::bench {

namespace {

constexpr int kChains = 12;

/// The sums go here so the compiler cannot drop the loop.
volatile float sink;

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) double fmaAvx2(long iterations) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = _mm256_set1_ps(0.001f * c);
  // x * a + b with a slightly below 1 stays bounded: no overflow, no denormals.
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c)
      acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  __m256 total = acc[0];
  for (int c = 1; c < kChains; ++c)
    total = _mm256_add_ps(total, acc[c]);
  float lanes[8];
  _mm256_storeu_ps(lanes, total);
  sink = lanes[0];
  return 2.0 * 8 * kChains * double(iterations);
}

__attribute__((target("avx512f"))) double fmaAvx512(long iterations) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = _mm512_set1_ps(0.001f * c);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c)
      acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  __m512 total = acc[0];
  for (int c = 1; c < kChains; ++c)
    total = _mm512_add_ps(total, acc[c]);
  sink = _mm512_reduce_add_ps(total);
  return 2.0 * 16 * kChains * double(iterations);
}

bool haveAvx2Fma() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool haveAvx512() { return __builtin_cpu_supports("avx512f"); }
#else
double fmaAvx2(long) { return 0; }
double fmaAvx512(long) { return 0; }
bool haveAvx2Fma() { return false; }
bool haveAvx512() { return false; }
#endif

/// Plain C++ for other CPUs: the compiler vectorises the inner loop to the
/// baseline ISA (SSE2 on x86-64), so this is a lower bound of the peak.
double fmaPortable(long iterations) {
  float acc[kChains * 8];
  for (int c = 0; c < kChains * 8; ++c)
    acc[c] = 0.001f * c;
  for (long i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains * 8; ++c)
      acc[c] = acc[c] * 0.999999f + 1e-7f;
  float total = 0;
  for (float v : acc)
    total += v;
  sink = total;
  return 2.0 * 8 * kChains * double(iterations);
}

enum class Kernel { Portable, Avx2, Avx512 };

double runKernel(Kernel kernel, long iterations) {
  switch (kernel) {
  case Kernel::Avx512: return fmaAvx512(iterations);
  case Kernel::Avx2: return fmaAvx2(iterations);
  case Kernel::Portable: return fmaPortable(iterations);
  }
  return 0;
}

/// The fastest kernel this CPU runs, chosen once by timing each on one thread.
Kernel bestKernel() {
  static const Kernel best = [] {
    if (!haveAvx2Fma())
      return Kernel::Portable;
    if (!haveAvx512())
      return Kernel::Avx2;
    auto rate = [](Kernel k) {
      double best = 0;
      for (int i = 0; i < 5; ++i) {
        auto start = std::chrono::steady_clock::now();
        double flops = runKernel(k, 1 << 20);
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                       .count();
        best = std::max(best, flops / s);
      }
      return best;
    };
    return rate(Kernel::Avx512) > rate(Kernel::Avx2) ? Kernel::Avx512 : Kernel::Avx2;
  }();
  return best;
}

} // namespace

std::string fmaKernelName() {
  std::string chains = ", " + std::to_string(kChains) + " independent chains";
  switch (bestKernel()) {
  case Kernel::Avx512: return "AVX-512 _mm512_fmadd_ps" + chains + " (faster than AVX2 here)";
  case Kernel::Avx2:
    return "AVX2 _mm256_fmadd_ps" + chains +
           (haveAvx512() ? " (AVX-512 was not faster here)" : "");
  case Kernel::Portable: break;
  }
  return "portable C++ multiply-add (no AVX2+FMA on this CPU)";
}

double measureFmaGflops(int threads, long iterations) {
  Kernel kernel = bestKernel();
  std::vector<double> flops(threads);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      flops[t] = runKernel(kernel, iterations);
    });
  for (std::thread &t : pool)
    t.join();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double total = 0;
  for (double f : flops)
    total += f;
  return total / seconds * 1e-9;
}

} // namespace pce::bench
