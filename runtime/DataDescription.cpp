//===- DataDescription.cpp - what a model's inputs were, kept with its weights -===//

#include "runtime/DataDescription.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <cstdio>
#include <cstdlib>

namespace pce::rt {

namespace {
Status check(const DataDescription &d, const std::string &where) {
  if (d.format.empty())
    return Status::error(where + "no data format");
  if (d.mean.empty() || d.mean.size() != d.std.size())
    return Status::error(where + "expected as many means as stds (one per channel), found " +
                         std::to_string(d.mean.size()) + " and " + std::to_string(d.std.size()));
  for (size_t c = 0; c < d.mean.size(); ++c)
    if (!std::isfinite(d.mean[c]) || !std::isfinite(d.std[c]) || !(d.std[c] > 0))
      return Status::error(where + "channel " + std::to_string(c) + ": expected a finite mean and a std > 0, found " +
                           formatFloats({d.mean[c]}) + " and " + formatFloats({d.std[c]}));
  if (Status s = checkDataOptions(d.format, d.options); !s)
    return Status::error(where + s.message());
  return Status::success();
}

// Options as JSON, whole numbers as integers (level 2, not 2.0).
JsonValue optionsJson(const DataOptions &options) {
  JsonValue o = JsonValue::object();
  for (const auto &[name, value] : options)
    o.set(name, value == std::floor(value) && std::abs(value) < 9e15 ? JsonValue::integer(int64_t(value))
                                                                     : JsonValue::number(value));
  return o;
}

// "a,b,c" -> floats; nullopt on anything else.
std::optional<std::vector<float>> parseFloats(const std::string &text) {
  std::vector<float> out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char *end = nullptr;
    float v = std::strtof(item.c_str(), &end);
    if (item.empty() || *end != '\0')
      return std::nullopt;
    out.push_back(v);
    if (comma == std::string::npos)
      return out;
    start = comma + 1;
  }
}
} // namespace

std::string formatFloats(const std::vector<float> &values) {
  std::string out;
  for (float v : values) {
    char buf[32];
    for (int precision = 1; precision <= 9; ++precision) {
      std::snprintf(buf, sizeof buf, "%.*g", precision, static_cast<double>(v));
      if (std::strtof(buf, nullptr) == v)
        break;
    }
    out += (out.empty() ? "" : ",") + std::string(buf);
  }
  return out;
}

Expected<std::map<std::string, std::string>> dataMetadata(const DataDescription &d) {
  if (Status s = check(d, "data description: "); !s)
    return s;
  std::map<std::string, std::string> m = {
      {kDataFormatKey, d.format}, {kDataMeanKey, formatFloats(d.mean)}, {kDataStdKey, formatFloats(d.std)}};
  if (!d.classes.empty()) {
    JsonValue names = JsonValue::array();
    for (const std::string &c : d.classes)
      names.push(JsonValue::string(c));
    m[kDataClassesKey] = writeJson(names);
  }
  if (!d.options.empty())
    m[kDataOptionsKey] = writeJson(optionsJson(d.options));
  return m;
}

Expected<std::optional<DataDescription>> readDataMetadata(const std::map<std::string, std::string> &metadata,
                                                          const std::string &source) {
  const char *have = metadata.count(kDataClassesKey) ? kDataClassesKey : nullptr, *missing = nullptr;
  for (const char *key : {kDataFormatKey, kDataMeanKey, kDataStdKey}) {
    if (metadata.count(key))
      have = key;
    else if (!missing)
      missing = key;
  }
  if (!have)
    return std::optional<DataDescription>();
  if (missing)
    return Status::error(source + ": metadata has '" + have + "' but not '" + missing +
                         "' (the pce.data.* entries come together)");
  DataDescription d;
  d.format = metadata.at(kDataFormatKey);
  for (auto [key, values] : {std::pair{kDataMeanKey, &d.mean}, std::pair{kDataStdKey, &d.std}}) {
    auto parsed = parseFloats(metadata.at(key));
    if (!parsed)
      return Status::error(source + ": metadata '" + key + "': expected numbers separated by commas, found '" +
                           metadata.at(key) + "'");
    *values = std::move(*parsed);
  }
  if (auto it = metadata.find(kDataClassesKey); it != metadata.end()) {
    auto json = parseJson(it->second, source + ": metadata '" + kDataClassesKey + "'");
    if (!json)
      return json.status();
    const JsonValue::Array *names = json->getArray();
    if (!names)
      return Status::error(source + ": metadata '" + kDataClassesKey + "': expected a JSON array of strings");
    for (const JsonValue &n : *names) {
      if (!n.getString())
        return Status::error(source + ": metadata '" + kDataClassesKey + "': expected a JSON array of strings");
      d.classes.push_back(*n.getString());
    }
  }
  if (auto it = metadata.find(kDataOptionsKey); it != metadata.end()) {
    auto json = parseJson(it->second, source + ": metadata '" + kDataOptionsKey + "'");
    if (!json)
      return json.status();
    if (!json->getObject())
      return Status::error(source + ": metadata '" + kDataOptionsKey + "': expected a JSON object of numbers");
    for (const auto &[name, value] : *json->getObject()) {
      if (!value.isNumber())
        return Status::error(source + ": metadata '" + kDataOptionsKey + "': option '" + name +
                             "' is not a number");
      d.options[name] = value.numberValue();
    }
  }
  if (Status s = check(d, source + ": metadata pce.data.*: "); !s)
    return s;
  return std::optional<DataDescription>(std::move(d));
}

JsonValue dataDescriptionJson(const DataDescription &d) {
  auto floats = [](const std::vector<float> &v) {
    JsonValue a = JsonValue::array();
    for (float x : v)
      a.push(JsonValue::number(std::strtod(formatFloats({x}).c_str(), nullptr)));
    return a;
  };
  JsonValue j = JsonValue::object();
  j.set("format", JsonValue::string(d.format));
  j.set("mean", floats(d.mean));
  j.set("std", floats(d.std));
  JsonValue names = JsonValue::array();
  for (const std::string &c : d.classes)
    names.push(JsonValue::string(c));
  j.set("classes", std::move(names));
  if (!d.options.empty())
    j.set("options", optionsJson(d.options));
  return j;
}

const std::vector<std::string> &dataOptionNames(const std::string &format) {
  static const std::vector<std::string> none, camelyon = {"level", "tile_size", "stride", "min_tissue"};
  return format == "camelyon16" ? camelyon : none;
}

Status checkDataOptions(const std::string &format, const DataOptions &options) {
  const std::vector<std::string> &names = dataOptionNames(format);
  for (const auto &[name, value] : options) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string known;
      for (const std::string &n : names)
        known += (known.empty() ? "" : ", ") + n;
      return Status::error("data option '" + name + "' does not apply to format " + format +
                           (known.empty() ? " (it takes none)" : " (it takes " + known + ")"));
    }
    if (!std::isfinite(value))
      return Status::error("data option '" + name + "' must be a finite number");
  }
  return Status::success();
}

Expected<DataFingerprint> fingerprintData(const std::string &path, int64_t images) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::pair<std::string, uintmax_t>> files;
  if (fs::is_regular_file(path, ec)) {
    files.push_back({fs::path(path).filename().string(), fs::file_size(path, ec)});
  } else {
    fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec), end;
    if (ec)
      return Status::error(path + ": cannot list the data files: " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec)
        return Status::error(path + ": cannot list the data files: " + ec.message());
      if (it->is_regular_file(ec))
        files.push_back({fs::relative(it->path(), path, ec).generic_string(), it->file_size(ec)});
    }
  }
  std::sort(files.begin(), files.end());
  uint64_t hash = 1469598103934665603ull; // FNV-1a 64
  auto mix = [&](const std::string &text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ull;
    }
  };
  for (const auto &[name, size] : files)
    mix(name + "\t" + std::to_string(size) + "\n");
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return DataFingerprint{path, images, hex};
}

std::map<std::string, std::string> fingerprintMetadata(const DataFingerprint &f) {
  return {{"pce.data.path", f.path}, {"pce.data.images", std::to_string(f.images)}, {"pce.data.files_hash", f.filesHash}};
}

void addFingerprintJson(JsonValue &data, const DataFingerprint &f) {
  data.set("path", JsonValue::string(f.path));
  data.set("images", JsonValue::integer(f.images));
  data.set("files_hash", JsonValue::string(f.filesHash));
}

bool isImageDataFormat(const std::string &format) {
  return format == "tiny-imagenet" || format == "pcam" || format == "voc" || format == "camelyon16";
}

std::string heldOutSplit(const std::string &format) { return format == "tiny-imagenet" ? "val" : "test"; }

bool hasValidationSplit(const std::string &format) { return format == "pcam" || format == "voc"; }

} // namespace pce::rt
