//===- Reference.h - float64 LibTorch reference of the PCE semantics -------===//
//
// A plain, slow, differentiable implementation of /work/shared/docs/SEMANTICS.md
// (docs/SEMANTICS.md in the shared tree), written from the math and used only to
// check compiled code. Every function takes and returns float64 CPU tensors
// (indices and masks excepted) and is built from torch ops, so torch autograd
// differentiates it. See docs/Reference.md for the decisions it encodes beyond
// SEMANTICS.md.
//
// Shapes keep the batch and patch dimensions apart:
//   x        [B, C, H, W]
//   patches  [B, P, C+4, ph+2r, pw+2r]        (patchify)
//   emb      [B, P, D],  D = De * sum(l*l)    (embed)
//   weights  [B, P, E]                        (route)
//   y        [B, P, E, Co, ph, pw]            (experts)
//   mixed    [B, P, Co, ph, pw]               (mixSum / mixConcat / attentionSE)
//   out      [B, Co, H, W]                    (unpatchify)
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_REFERENCE_REFERENCE_H
#define PCE_RUNTIME_REFERENCE_REFERENCE_H

#include <torch/types.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace pce::ref {

//===----------------------------------------------------------------------===//
// §1 Patching
//===----------------------------------------------------------------------===//

/// lin(n, i) = 2*i/(n-1) - 1 for n > 1, 0 for n == 1 (i may lie outside [0, n)).
double lin(int64_t n, int64_t i);

enum class Halo { Context, Isolated };

struct PatchifyConfig {
  int64_t ph = 1, pw = 1;
  int64_t r = 0; ///< halo width, k/2 of the experts' kernels
  Halo halo = Halo::Context;
};

/// x [B,C,H,W] -> [B,P,C+4,ph+2r,pw+2r]. Throws c10::Error when H % ph or W % pw.
torch::Tensor patchify(const torch::Tensor &x, const PatchifyConfig &cfg);

/// The core (offsets 0..ph-1, 0..pw-1) of patches [B,P,C',ph+2r,pw+2r] -> [B,P,C',ph,pw].
torch::Tensor patchCore(const torch::Tensor &patches, int64_t r);

/// y [B,P,Co,ph,pw] -> [B,Co,H,W]; patch p = a*npw + b goes to rows a*ph.., cols b*pw..
torch::Tensor unpatchify(const torch::Tensor &y, int64_t H, int64_t W);

//===----------------------------------------------------------------------===//
// §2 Embedding
//===----------------------------------------------------------------------===//

struct EmbedConfig {
  std::vector<int64_t> levels{1, 2, 4};
};

/// Half-open bin [begin, end) of bin u of n elements pooled into l bins:
/// begin = floor(u*n/l), end = ceil((u+1)*n/l).
std::pair<int64_t, int64_t> sppBin(int64_t n, int64_t l, int64_t u);

/// Spatial pyramid max pooling of z [N,De,h,w] -> [N, De*sum(l*l)], each level
/// flattened channel-major (c*l*l + u*l + v), levels concatenated in order.
torch::Tensor spp(const torch::Tensor &z, const std::vector<int64_t> &levels);

/// emb = spp(conv1x1(core(patches); We [De,C+4], be [De])) -> [B,P,D].
torch::Tensor embed(const torch::Tensor &patches, int64_t r, const torch::Tensor &We,
                    const torch::Tensor &be, const EmbedConfig &cfg = {});

//===----------------------------------------------------------------------===//
// §3 Routing
//===----------------------------------------------------------------------===//

enum class RouterKind { Uniform, Position, Cosine, Mlp, Gumbel };

struct RouterConfig {
  RouterKind kind = RouterKind::Uniform;
  int64_t numExperts = 1;
  double tau = 1.0;     ///< cosine / gumbel temperature (ignored if logTau is defined)
  torch::Tensor logTau; ///< optional learnable temperature: tau = exp(logTau), a scalar
  int64_t topK = 0;     ///< 0 = dense
  bool renormalize = false;
  std::vector<int64_t> positionTable; ///< assign(p); empty = p mod E
  double beta = 1.0;                  ///< position router
  double sigma = 0.0;                 ///< position router noise scale (training only)
  double gumbelTau = 1.0;
  bool hard = false; ///< gumbel straight-through one-hot (training only)
  bool normalizeInput = false; ///< mlp: W1 reads emb / max(|emb|, 1e-12)
  bool cosineHead = false;     ///< mlp: softmax(cos(hidden, W2_e) / tau), no b2
  bool linearHidden = false;   ///< mlp: hidden = W1 u + b1, no ReLU
  bool training = false;
};

/// Router tensors; those a kind does not use may stay undefined.
struct RouterParams {
  torch::Tensor keys;         ///< [E,D] cosine / gumbel
  torch::Tensor W1, b1;       ///< mlp: [Hd,D], [Hd]
  torch::Tensor W2, b2;       ///< mlp: [E,Hd], [E] (no b2 with a cosine head)
  torch::Tensor positionNoise; ///< xi [B,P,E]; drawn with torch::randn when undefined
  torch::Tensor gumbelNoise;  ///< g [B,P,E] ~ Gumbel(0,1); drawn when undefined
};

/// The temperature tau of cfg as a (possibly differentiable) scalar tensor.
torch::Tensor temperature(const RouterConfig &cfg);

/// Cosine similarities s [B,P,E] of emb [B,P,D] and keys [E,D].
torch::Tensor cosineScores(const torch::Tensor &emb, const torch::Tensor &keys);

/// Dense routing weights (each row sums to 1), before top-k. emb [B,P,D] (unused, but
/// its B and P are, for uniform and position: pass any [B,P,*] tensor).
torch::Tensor routeDense(const torch::Tensor &emb, const RouterConfig &cfg,
                         const RouterParams &params);

/// Boolean [.., E]: the k largest entries of each row (ties: lower index first).
/// k <= 0 or k >= E keeps everything.
torch::Tensor topKMask(const torch::Tensor &w, int64_t k);

/// Zero all but the top-k of each row; renormalise the kept ones if asked.
torch::Tensor applyTopK(const torch::Tensor &w, int64_t k, bool renormalize);

/// routeDense followed by applyTopK.
torch::Tensor route(const torch::Tensor &emb, const RouterConfig &cfg,
                    const RouterParams &params);

//===----------------------------------------------------------------------===//
// §4 Experts, mixing, attention
//===----------------------------------------------------------------------===//

struct ExpertParams {
  torch::Tensor kernels; ///< [E,Co,C+4,k,k], no bias
  torch::Tensor gamma, beta, runningMean, runningVar; ///< [E,Co]
  double eps = 1e-5;
  double momentum = 0.1;
};

struct ExpertsResult {
  torch::Tensor y; ///< [B,P,E,Co,ph,pw]
  /// Statistics used to normalise (batch statistics, biased variance, in training;
  /// the running statistics in inference) [E,Co].
  torch::Tensor mean, var;
  /// Running statistics after the update (training), or the inputs (inference) [E,Co].
  torch::Tensor runningMean, runningVar;
  /// Number of (patch, pixel) values each expert's statistics cover [E] (int64).
  torch::Tensor count;
};

/// y_e = relu(gamma_e*(conv(p, K_e) - mu_e)/sqrt(var_e + eps) + beta_e), valid conv.
/// Training: batch statistics per expert over the (patch, pixel)s of the patches with
/// routed[b,p,e] true (all patches when `routed` is undefined); running statistics
/// updated with momentum and unbiased variance. An expert with no routed patch keeps
/// its running statistics and is normalised with them.
ExpertsResult experts(const torch::Tensor &patches, const ExpertParams &params,
                      bool training, const torch::Tensor &routed = {});

/// out[b,p] = sum_e w[b,p,e] * y[b,p,e]   -> [B,P,Co,ph,pw]
torch::Tensor mixSum(const torch::Tensor &y, const torch::Tensor &w);

/// out = conv1x1(concat_e(w_e*y_e); Wc [Co,E*Co], bc [Co]); channel e*Co + c is
/// w_e * y_e[c].                        -> [B,P,Co,ph,pw]
torch::Tensor mixConcat(const torch::Tensor &y, const torch::Tensor &w,
                        const torch::Tensor &Wc, const torch::Tensor &bc);

/// Squeeze-excitation per patch: s = mean of x[b,p,c] over its ph x pw core,
/// out = x * sigmoid(W2 relu(W1 s + b1) + b2). W1 [Hd,Co], b1 [Hd], W2 [Co,Hd], b2 [Co].
torch::Tensor attentionSE(const torch::Tensor &x, const torch::Tensor &W1,
                          const torch::Tensor &b1, const torch::Tensor &W2,
                          const torch::Tensor &b2);

//===----------------------------------------------------------------------===//
// The composite layer
//===----------------------------------------------------------------------===//

enum class MixKind { Sum, Concat };
enum class AttentionKind { None, SE };

struct LayerConfig {
  PatchifyConfig patch;  ///< r must equal k/2 of the kernels
  EmbedConfig embed;
  RouterConfig router;   ///< its `training` is replaced by LayerConfig::training
  MixKind mix = MixKind::Sum;
  AttentionKind attention = AttentionKind::None;
  bool training = false; ///< BN batch statistics and router noise
};

struct LayerParams {
  torch::Tensor We, be; ///< embedding; may be undefined for uniform / position routers
  RouterParams router;
  ExpertParams experts;
  torch::Tensor Wc, bc;                 ///< mix = concat
  torch::Tensor seW1, seb1, seW2, seb2; ///< attention = se
};

struct LayerResult {
  torch::Tensor out;          ///< [B,Co,H,W]
  torch::Tensor emb;          ///< [B,P,D] (undefined when not computed)
  torch::Tensor denseWeights; ///< [B,P,E] before top-k
  torch::Tensor weights;      ///< [B,P,E] after top-k
  ExpertsResult experts;
};

/// patchify -> embed -> route -> experts -> mix -> attention -> unpatchify.
/// In training with topK > 0 an expert's BN statistics cover only the patches that
/// chose it (topKMask of the dense weights).
LayerResult layer(const torch::Tensor &x, const LayerConfig &cfg, const LayerParams &params);

//===----------------------------------------------------------------------===//
// §3 / §5 Auxiliary and analysis quantities (w is [..., E]; rows are patches)
//===----------------------------------------------------------------------===//

/// Argmax expert of each row (ties: lower index) -> int64 [...].
torch::Tensor argmaxExpert(const torch::Tensor &w);

/// Switch load-balancing loss E * sum_e f_e * m_e (differentiable through m_e).
torch::Tensor loadBalancingLoss(const torch::Tensor &w);

/// EMA key update (no autograd): k_e <- alpha*k_e + (1-alpha)*mean(emb of patches with
/// argmax e), unchanged for experts no patch chose. emb [..., D], w [..., E].
torch::Tensor emaKeyUpdate(const torch::Tensor &keys, const torch::Tensor &emb,
                           const torch::Tensor &w, double alpha = 0.99);

struct EntropyStats {
  double mean = 0;       ///< mean over patches of -sum w log w (nats)
  double normalized = 0; ///< mean / log E (0 when E == 1)
};
EntropyStats routerEntropy(const torch::Tensor &w);

/// Fraction of patches whose argmax is e -> [E].
torch::Tensor expertUsage(const torch::Tensor &w);

/// Routing map of w [B,P,E]: for each position p, the fraction of images whose patch
/// p chose e -> [P,E] (rows sum to 1).
torch::Tensor routingMap(const torch::Tensor &w);

struct MutualInformation {
  double nats = 0;
  double normalized = 0; ///< nats / min(log na, log nb) (0 when that is 0)
};

/// I(a; b) of paired integer samples a in [0,na), b in [0,nb) (int64 tensors of equal size).
MutualInformation mutualInformation(const torch::Tensor &a, int64_t na,
                                    const torch::Tensor &b, int64_t nb);

/// I(expert; position) from w [B,P,E], normalised by min(log E, log P).
MutualInformation positionMutualInformation(const torch::Tensor &w);

/// I(expert; class) from w [B,P,E] and labels [B], normalised by min(log E, log classes).
MutualInformation classMutualInformation(const torch::Tensor &w, const torch::Tensor &labels,
                                         int64_t numClasses);

} // namespace pce::ref

#endif // PCE_RUNTIME_REFERENCE_REFERENCE_H
