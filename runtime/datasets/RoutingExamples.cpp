//===- RoutingExamples.cpp - images shown with their routing in report.html ===//

#include "runtime/datasets/RoutingExamples.h"

#include "runtime/RoutingPaths.h"
#include "runtime/datasets/ImageCodec.h"

#include <algorithm>
#include <map>
#include <optional>

namespace pce::rt {

namespace {

std::string base64(const std::string &bytes) {
  static const char *const kDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size())
      v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size())
      v |= uint32_t(uint8_t(bytes[i + 2]));
    out += kDigits[(v >> 18) & 63];
    out += kDigits[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kDigits[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kDigits[v & 63] : '=';
  }
  return out;
}

// Image `i` of f32 [N, C, H, W], its range stretched to 0..255.
std::string pngUri(const HostTensor &images, int64_t i) {
  const int64_t C = images.shape[1], H = images.shape[2], W = images.shape[3];
  const int64_t shown = C == 3 ? 3 : 1;
  const float *x = images.f32() + i * C * H * W;
  float lo = x[0], hi = x[0];
  for (int64_t k = 0; k < shown * H * W; ++k)
    lo = std::min(lo, x[k]), hi = std::max(hi, x[k]);
  const float range = hi > lo ? hi - lo : 1.0f;
  Image img(H, W, shown);
  for (int64_t c = 0; c < shown; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t xx = 0; xx < W; ++xx)
        img.at(y, xx, c) = uint8_t(std::clamp(255.0f * (x[(c * H + y) * W + xx] - lo) / range + 0.5f, 0.0f, 255.0f));
  auto png = encodePng(img);
  return png ? "data:image/png;base64," + base64(*png) : std::string();
}

} // namespace

std::optional<RoutingExample> routingExampleOf(const HostTensor &images, int64_t row, int64_t i,
                                              const HostTensor *labels, const std::vector<const HostTensor *> &weights) {
  if (images.dtype != DType::F32 || images.shape.size() != 4 || row < 0 || row >= images.shape[0] || i < 0)
    return std::nullopt;
  for (const HostTensor *w : weights)
    if (w->shape.size() != 3 || i >= w->shape[0])
      return std::nullopt;
  RoutingExample ex;
  ex.item = i;
  ex.label = labels && labels->i64() && labels->shape.size() == 1 && i < labels->shape[0] ? labels->i64()[i] : -1;
  ex.imageUri = pngUri(images, row);
  if (ex.imageUri.empty())
    return std::nullopt;
  for (const HostTensor *w : weights) {
    const int64_t P = w->shape[1], E = w->shape[2];
    std::vector<int64_t> expert(size_t(P), 0);
    std::vector<double> weight(size_t(P), 0.0);
    for (int64_t p = 0; p < P; ++p) {
      const int64_t row = (i * P + p) * E, best = topExpert(*w, row, E);
      expert[size_t(p)] = best;
      weight[size_t(p)] = w->dtype == DType::F32 ? double(w->f32()[row + best]) : w->f64()[row + best];
    }
    ex.expert.push_back(std::move(expert));
    ex.weight.push_back(std::move(weight));
  }
  return ex;
}

std::vector<RoutingExample> routingExamples(const HostTensor &images, int64_t n, const HostTensor *labels,
                                            const std::vector<const HostTensor *> &weights, int64_t classes,
                                            int64_t perClass) {
  std::vector<RoutingExample> out;
  if (images.dtype != DType::F32 || images.shape.size() != 4 || images.shape[0] < n)
    return out;
  std::vector<int64_t> chosen;
  if (labels && labels->i64() && labels->shape.size() == 1) {
    n = std::min(n, labels->shape[0]);
    std::map<int64_t, int64_t> taken; // class -> images taken
    for (int64_t i = 0; i < n && int64_t(chosen.size()) < classes * perClass; ++i) {
      const int64_t c = labels->i64()[i];
      if (!taken.count(c) && int64_t(taken.size()) == classes)
        continue;
      if (taken[c] < perClass) {
        ++taken[c];
        chosen.push_back(i);
      }
    }
    std::stable_sort(chosen.begin(), chosen.end(),
                     [&](int64_t a, int64_t b) { return labels->i64()[a] < labels->i64()[b]; });
  } else {
    for (int64_t i = 0; i < std::min(n, classes * perClass); ++i)
      chosen.push_back(i);
  }
  for (int64_t i : chosen) {
    auto ex = routingExampleOf(images, i, i, labels, weights);
    if (!ex)
      return {};
    out.push_back(std::move(*ex));
  }
  return out;
}

} // namespace pce::rt
