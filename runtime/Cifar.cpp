//===- Cifar.cpp - CIFAR-10 / CIFAR-100, binary version -------------------===//

#include "runtime/Cifar.h"

#include "runtime/Failure.h"
#include "runtime/FileIO.h"

#include <algorithm>
#include <filesystem>

namespace pce::rt {

namespace fs = std::filesystem;

int64_t cifarRecordBytes(CifarVariant variant) {
  return (variant == CifarVariant::Cifar10 ? 1 : 2) + kCifarPixels;
}

int64_t cifarClasses(CifarVariant variant) { return variant == CifarVariant::Cifar10 ? 10 : 100; }

Status parseCifar(std::string_view bytes, CifarVariant variant, const std::string &source, CifarRecords &into) {
  const int64_t record = cifarRecordBytes(variant), size = static_cast<int64_t>(bytes.size());
  const bool hundred = variant == CifarVariant::Cifar100;
  if (size == 0)
    return Status::error(source + ": byte 0: empty file (a CIFAR batch holds records of " + std::to_string(record) +
                         " bytes)");
  if (size % record != 0)
    return Status::error(source + ": byte " + std::to_string(size - size % record) + ": truncated record: " +
                         std::to_string(size % record) + " bytes left after " + std::to_string(size / record) +
                         " records of " + std::to_string(record) + " bytes (is this " +
                         (hundred ? "CIFAR-100" : "CIFAR-10") + "'s binary version?)");
  const int64_t n = size / record;
  const auto *p = reinterpret_cast<const uint8_t *>(bytes.data());
  CifarRecords out = std::move(into);
  out.pixels.reserve(out.pixels.size() + n * kCifarPixels);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t *r = p + i * record;
    auto checkLabel = [&](int64_t at, uint8_t label, int64_t classes, const char *what) {
      if (label >= classes)
        return Status::error(source + ": byte " + std::to_string(i * record + at) + ": " + what + " " +
                             std::to_string(label) + " of record " + std::to_string(i) + " is not one of the " +
                             std::to_string(classes) + " classes");
      return Status::success();
    };
    if (hundred) {
      if (Status s = checkLabel(0, r[0], 20, "coarse label"); !s)
        return s;
      if (Status s = checkLabel(1, r[1], 100, "fine label"); !s)
        return s;
      out.coarse.push_back(r[0]);
      out.labels.push_back(r[1]);
    } else {
      if (Status s = checkLabel(0, r[0], 10, "label"); !s)
        return s;
      out.labels.push_back(r[0]);
    }
    const uint8_t *pixels = r + (hundred ? 2 : 1);
    out.pixels.insert(out.pixels.end(), pixels, pixels + kCifarPixels);
  }
  out.count += n;
  into = std::move(out);
  return Status::success();
}

Status readCifarFile(const std::string &path, CifarVariant variant, CifarRecords &into) {
  std::string bytes;
  try {
    bytes = detail::readWholeFile(path);
  } catch (...) {
    return detail::statusFromCurrentException();
  }
  return parseCifar(bytes, variant, path, into);
}

Expected<CifarFiles> findCifarFiles(const std::string &dir, CifarVariant variant) {
  CifarFiles files;
  std::vector<std::string> missing;
  auto need = [&](const std::string &name) {
    std::string path = (fs::path(dir) / name).string();
    if (!fs::is_regular_file(path))
      missing.push_back(name);
    return path;
  };
  if (variant == CifarVariant::Cifar10) {
    for (int b = 1; b <= 5; ++b)
      files.train.push_back(need("data_batch_" + std::to_string(b) + ".bin"));
    files.test = need("test_batch.bin");
    files.names = need("batches.meta.txt");
  } else {
    files.train.push_back(need("train.bin"));
    files.test = need("test.bin");
    files.names = need("fine_label_names.txt");
  }
  if (!missing.empty()) {
    std::string list;
    for (const std::string &m : missing)
      list += (list.empty() ? "" : ", ") + m;
    return Status::error(dir + ": not a " +
                         std::string(variant == CifarVariant::Cifar10 ? "CIFAR-10 (cifar-10-batches-bin)"
                                                                      : "CIFAR-100 (cifar-100-binary)") +
                         " directory: missing " + list);
  }
  return files;
}

Expected<std::vector<std::string>> readCifarNames(const std::string &path, int64_t expected) {
  std::string text;
  try {
    text = detail::readWholeFile(path);
  } catch (...) {
    return detail::statusFromCurrentException();
  }
  std::vector<std::string> names;
  size_t start = 0;
  int64_t line = 0;
  bool blankSeen = false;
  while (start < text.size()) {
    ++line;
    size_t end = text.find('\n', start);
    std::string name = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!name.empty() && name.back() == '\r')
      name.pop_back();
    start = end == std::string::npos ? text.size() : end + 1;
    if (name.empty()) {
      blankSeen = true;
      continue;
    }
    if (blankSeen)
      return Status::error(path + ": line " + std::to_string(line) + ": a class name after a blank line");
    names.push_back(name);
  }
  if (static_cast<int64_t>(names.size()) != expected)
    return Status::error(path + ": expected " + std::to_string(expected) + " class names, one per line, found " +
                         std::to_string(names.size()));
  return names;
}

Expected<CifarSplit> readCifarSplit(const std::string &dir, CifarVariant variant, bool train,
                                    const std::vector<float> &mean, const std::vector<float> &std, int64_t limit) {
  if (mean.size() != kCifarChannels || std.size() != kCifarChannels)
    return Status::error("CIFAR images have 3 channels; the normalisation has " + std::to_string(mean.size()) +
                         " means and " + std::to_string(std.size()) + " stds");
  auto files = findCifarFiles(dir, variant);
  if (!files)
    return files.status();
  CifarRecords records;
  for (const std::string &f : train ? files->train : std::vector<std::string>{files->test})
    if (Status s = readCifarFile(f, variant, records); !s)
      return s;
  auto names = readCifarNames(files->names, cifarClasses(variant));
  if (!names)
    return names.status();
  const int64_t n = limit > 0 ? std::min(limit, records.count) : records.count;
  auto images = HostTensor::create(DType::F32, {n, kCifarChannels, kCifarSide, kCifarSide});
  auto labels = HostTensor::create(DType::I64, {n});
  if (!images || !labels)
    return Status::error(images ? labels.error() : images.error());
  const int64_t plane = kCifarSide * kCifarSide;
  for (int64_t i = 0; i < n; ++i) {
    labels->i64()[i] = records.labels[i];
    for (int64_t c = 0; c < kCifarChannels; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        int64_t at = (i * kCifarChannels + c) * plane + p;
        images->f32()[at] = (records.pixels[at] / 255.0f - mean[c]) / std[c];
      }
  }
  return CifarSplit{std::move(*images), std::move(*labels), std::move(*names),
                    train ? files->train.front() : files->test};
}

} // namespace pce::rt
