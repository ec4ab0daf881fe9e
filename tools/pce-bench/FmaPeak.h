//===- FmaPeak.h - the machine's fp32 FMA throughput, measured --*- C++ -*-===//
//
// R3 relates the compiled convolution's GFLOP/s to what this machine can do,
// measured in the same run (a datasheet peak means nothing on a shared VM).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_TOOLS_PCE_BENCH_FMAPEAK_H
#define PCE_TOOLS_PCE_BENCH_FMAPEAK_H

#include <string>

namespace pce::bench {

/// How the peak kernel computes: "AVX2 FMA (8 lanes x 12 chains)" or the
/// portable fallback.
std::string fmaKernelName();

/// Runs the FMA kernel on `threads` threads at once, each doing `iterations`
/// loop trips; returns the achieved GFLOP/s (an FMA counts as 2 FLOPs).
double measureFmaGflops(int threads, long iterations);

} // namespace pce::bench

#endif // PCE_TOOLS_PCE_BENCH_FMAPEAK_H
