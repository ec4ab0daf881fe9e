//===- RoutingReport.h - Routing statistics of a PCE layer (SEMANTICS §5) -===//
//
// The analysis quantities of docs/SEMANTICS.md §5, computed from a layer's
// routing weights w [N images, P patches, E experts] (what `pce-run --routing`
// writes as RDIR/<layer>.routing.npy) and, optionally, the images' labels [N]:
//
//   router entropy     mean over patches of -sum_e w_e log w_e (nats, 0 log 0 = 0),
//                      and that mean / log E (0 when E == 1)
//   expert usage       f_e: fraction of patches whose argmax is e (ties: lower e)
//   mean weight        m_e: mean of w_e over all patches
//   load balance       E * sum_e f_e m_e (the Switch loss of §3; 1 when balanced)
//   routing map        per patch position p, the fraction of images whose patch p
//                      chose e ([P,E], rows sum to 1); its argmax per row is the
//                      dominant expert of p (ties: lower e)
//   I(expert;position) from the joint histogram of argmax expert and patch index,
//                      nats and / min(log E, log P) (0 when that bound is 0)
//   I(expert;class)    the same with the image's label, / min(log E, log classes);
//                      or with each patch's own class (dense tasks: labels
//                      [N,P], e.g. the majority class of the patch's pixels;
//                      -1 leaves a patch out of this histogram)
//
// Nothing is stored per patch: RoutingAccumulator keeps only histograms
// (O(P*E + classes*E) numbers), so a data set can be fed batch by batch.
// Plain C++ (no MLIR, no LibTorch); errors are values (runtime/Status.h).
//
// Invalid input is an error naming the layer and the place, never a crash:
// a tensor that is not f32/f64 [N,P,E] with P, E >= 1, a batch whose P or E
// differs from the earlier ones, a weight that is NaN/Inf or negative, a patch
// whose weights sum to more than 1 (+1e-3), labels that are not integer [N],
// a label outside [0, classes), labels given for some batches but not others,
// and finishing with no items.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_ROUTINGREPORT_H
#define PCE_RUNTIME_ROUTINGREPORT_H

#include "runtime/HostTensor.h"
#include "runtime/Json.h"
#include "runtime/RoutingClusters.h"
#include "runtime/RoutingPaths.h"
#include "runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pce::rt {

/// A quantity in nats and normalised by its upper bound (0 when the bound is 0).
struct NatsStat {
  double nats = 0;
  double normalized = 0;
};

/// Bins of RoutingLayerReport::entropyHistogram.
inline constexpr int64_t kEntropyBins = 10;
/// The thresholds of routingWarnings(), as fractions of all patches' argmax:
/// an expert below kDeadUsage is dead; above kOverloadFactor / E (E >= 3)
/// overloaded; one expert at kCollapsedUsage or more is a collapsed router.
inline constexpr double kDeadUsage = 0.01;
inline constexpr double kOverloadFactor = 2.0;
inline constexpr double kCollapsedUsage = 0.9;

/// I(a; b) in nats of the joint histogram counts[a * nb + b], and divided by
/// min(log na, log nb) (0 when that is 0). The one definition the routing
/// report and pce-train's per-epoch statistics share.
NatsStat mutualInformation(const std::vector<int64_t> &counts, int64_t na, int64_t nb);
/// {"nats": .., "normalized": ..}
JsonValue natsJson(const NatsStat &s);

/// The report of one routing result (one router of one layer).
struct RoutingLayerReport {
  std::string name;   ///< e.g. "layer0.routing"
  int64_t items = 0;  ///< N images
  int64_t patches = 0; ///< P
  int64_t experts = 0; ///< E
  /// The patch grid nph x npw (nph*npw == P) when it could be inferred.
  std::optional<std::pair<int64_t, int64_t>> grid;
  NatsStat entropy;             ///< mean router entropy, / log E
  std::vector<double> usage;    ///< [E] f_e
  std::vector<double> meanWeight; ///< [E] m_e
  double loadBalance = 0;       ///< E * sum f_e m_e
  std::vector<double> routingMap; ///< [P*E] row-major, rows sum to 1
  std::vector<int64_t> dominant;  ///< [P] argmax of each routing-map row
  NatsStat positionMI;          ///< I(expert; position), / min(log E, log P)
  std::optional<NatsStat> classMI; ///< I(expert; class), / min(log E, log classes)
  int64_t classes = 0;          ///< classes of classMI (0 without labels)
  /// [classes*E] row-major: of the patches of class c, the fraction whose
  /// argmax is e (a row of zeros for a class without patches); empty without labels.
  std::vector<double> classExpert;
  /// [kEntropyBins]: the fraction of patches whose entropy / log E lies in
  /// [i / bins, (i + 1) / bins) (the last bin includes 1; E == 1: all in bin 0).
  std::vector<double> entropyHistogram;
  /// [E]: the mean entropy / log E of the patches whose argmax is e, i.e. how
  /// sure the router is of the patches it sends there (0 for an expert no
  /// patch chose); pce-reshape splits an expert above a threshold of it.
  std::vector<double> expertEntropy;
  /// What a person should look at (routingWarnings()).
  std::vector<std::string> warnings;

  double mapAt(int64_t p, int64_t e) const { return routingMap[p * experts + e]; }
};

/// Accumulates the histograms of one routing result over batches.
class RoutingAccumulator {
public:
  /// numClasses > 0 fixes the number of classes (labels must lie below it);
  /// 0 takes max label + 1 over everything added.
  explicit RoutingAccumulator(std::string name, int64_t numClasses = 0);

  /// Adds w [B,P,E] (f32 or f64) and, optionally, labels [B] or per patch
  /// [B,P] (i64, i32 or u8; per patch, -1 is "no class").
  /// `items` >= 0 uses only the first `items` images of w (and labels), e.g. to
  /// skip the padding of a last partial batch without copying.
  /// On error nothing is added.
  Status add(const HostTensor &weights, const HostTensor *labels = nullptr, int64_t items = -1);

  int64_t items() const { return items_; }

  /// The report of everything added; an error when nothing was.
  Expected<RoutingLayerReport> finish() const;

private:
  std::string name_;
  int64_t fixedClasses_ = 0;
  int64_t P_ = 0, E_ = 0, items_ = 0;
  std::optional<bool> labelled_;
  double entropySum_ = 0;
  std::vector<double> weightSum_;     // [E]
  std::vector<double> expertEntropySum_; // [E] entropy of the patches by argmax
  std::vector<int64_t> positionCount_; // [P*E] argmax histogram
  std::vector<int64_t> classCount_;    // [classes*E] argmax histogram
  std::vector<int64_t> entropyCount_;  // [kEntropyBins]
};

/// The warnings of a layer's usage, by the thresholds above, e.g.
/// "expert 1 is dead: 0.0% of patches (below 1%)",
/// "expert 0 is overloaded: 61.0% of patches (more than 2 x the balanced 25.0%)",
/// "the router has collapsed: expert 2 takes 95.0% of patches (90% or more)".
std::vector<std::string> routingWarnings(const std::vector<double> &usage);

/// One-shot: the report of w [N,P,E] (labels [N] optional, as for add()).
Expected<RoutingLayerReport> computeRoutingReport(const std::string &name, const HostTensor &weights,
                                                  const HostTensor *labels = nullptr,
                                                  int64_t numClasses = 0);

/// The patch grid (nph, npw) of P patches on an H x W image: the factorisations
/// nph*npw == P with H % nph == 0 and W % npw == 0; if several, the one with
/// square patches (H/nph == W/npw). Without an image size (H or W <= 0) a
/// perfect square P gives sqrt(P) x sqrt(P). nullopt when ambiguous or none.
std::optional<std::pair<int64_t, int64_t>> inferPatchGrid(int64_t P, int64_t H = 0, int64_t W = 0);

/// One input image shown with its routing (report.html): the image as a
/// data: URI (PNG), and per layer of the report (same order) each patch's
/// top-1 expert and its weight.
struct RoutingExample {
  int64_t item = 0;   ///< index of the image among those run
  int64_t label = -1; ///< its class, -1 when unknown
  std::string imageUri;
  std::vector<std::vector<int64_t>> expert; ///< [layers][P]
  std::vector<std::vector<double>> weight;  ///< [layers][P]
};

/// The report of a run: every routing result of an entry point.
struct RoutingReport {
  int64_t items = 0;                                    ///< images
  std::optional<std::pair<int64_t, int64_t>> imageSize; ///< H, W of the input, if known
  int64_t classes = 0;                                  ///< > 0 when labels were used
  std::vector<RoutingLayerReport> layers;
  /// Example images with their routing (report.html only; may be empty).
  std::vector<RoutingExample> examples;
  /// Route clusters of the images over every layer's routing, and each
  /// cluster's exemplar image with its routing (report.html; may be empty).
  std::optional<RouteClusters> clusters;
  std::vector<RoutingExample> clusterExemplars;
  /// Routing paths through the layers (two or more layers with grids).
  std::optional<RoutingPaths> paths;
  /// The lines of a run's log.jsonl: report.html's training curves (may be empty).
  std::vector<JsonValue> trainingLog;
  /// Results that could not be reported on: (name, reason).
  std::vector<std::pair<std::string, std::string>> skipped;
};

/// The JSON document of report.json (keys documented in docs/Runtime.md):
///   {"format": "pce-routing-report", "version": 1, "items", "image_size",
///    "classes", "layers": [{"name", "items", "patches", "experts", "grid",
///    "entropy": {"nats", "normalized"}, "expert_usage", "mean_weight",
///    "load_balance", "routing_map", "dominant_expert",
///    "mi_position": {"nats", "normalized"},
///    "mi_class": {"nats", "normalized", "classes"} | null,
///    "class_expert": [[..E] per class] | null, "entropy_histogram": [..bins],
///    "expert_entropy": [..E],
///    "warnings": [..]}], "skipped": [{"name", "error"}],
///    "clusters": {"k", "sizes", "exemplars", "silhouette", "silhouette_images",
///                 "iterations"} | null,
///    "paths": {"layers": [names], "positions", "distinct", "top": [{"experts", "share"}],
///              "per_position": [{"experts", "share"}]} | null,
///    "examples": [{"item", "label", "experts": [[P] per layer], "weights": [[P] per layer]}],
///    "cluster_exemplars": [the same per cluster],
///    "training": [log.jsonl's epoch lines]}
JsonValue routingReportToJson(const RoutingReport &report);
JsonValue routingLayerToJson(const RoutingLayerReport &layer);

/// The human-readable report.md (Markdown).
std::string routingReportMarkdown(const RoutingReport &report);

/// One line per layer for a terminal, e.g.
///   routing layer0.routing: entropy 0.2291 nats (0.3305 of log 2), usage 50.0% 50.0%,
///   I(expert;position) 0.6931 nats (1.0000), I(expert;class) 0.0000 nats (0.0000)
/// and one "warning: <layer>: <warning>" line per warning.
std::vector<std::string> routingSummaryLines(const RoutingReport &report);

/// report.html: one static page (inline SVG, no script, no network; well-formed
/// XML) with, per layer, its warnings, the example images with each patch
/// outlined in its expert's colour (opacity by weight), usage and mean-weight bars, the dominant
/// expert per patch position on the patch grid, the entropy histogram and the
/// class x expert matrix; sections have ids "layer<i>", "layer<i>-usage", ...
std::string routingReportHtml(const RoutingReport &report);

namespace detail {
/// printf of one number, for the report's text (report.md, report.html).
std::string formatNumber(const char *format, double v);
/// report.html's training section from log.jsonl's lines ("" without epochs).
std::string trainingCurvesHtml(const std::vector<JsonValue> &log);
} // namespace detail

/// Writes DIR/report.json, DIR/report.md and DIR/report.html (atomically; DIR
/// must exist).
Status writeRoutingReport(const RoutingReport &report, const std::string &dir);

} // namespace pce::rt

#endif // PCE_RUNTIME_ROUTINGREPORT_H
