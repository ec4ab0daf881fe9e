//===- DataDescription.h - what a model's inputs were, kept with its weights -===//
//
// How the images a model was trained on were made into tensors: the data
// set's format, per-channel mean and std applied after scaling pixels to
// [0, 1], and the class names when the data set has them. pce-train writes it
// into weights.safetensors' __metadata__ (keys below) and summary.json, so
// pce-run normalises as training did without being told; the one definition
// of those keys and their text.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATADESCRIPTION_H
#define PCE_RUNTIME_DATADESCRIPTION_H

#include "runtime/Json.h"
#include "runtime/Status.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pce::rt {

// The data formats PCE reads (training.data.format, --data-format).
// The image data sets (runtime/datasets/Examples.h) need its codec libraries.
inline const std::vector<std::string> kDataFormats = {"idx",  "cifar10", "cifar100", "npy",
                                                      "tiny-imagenet", "pcam", "voc", "camelyon16"};

// The formats read through runtime/datasets (decoded images of any size,
// fitted to the model's input); the others are read by pce_runtime itself.
bool isImageDataFormat(const std::string &format);
// The split a final evaluation reads: "val" for Tiny-ImageNet (its test
// images have no labels), "test" otherwise.
std::string heldOutSplit(const std::string &format);
// Whether the data set ships a validation split of its own (else pce-train
// carves one from the training split with its seed).
bool hasValidationSplit(const std::string &format);

// Options of a format's reader, by name (camelyon16: level, tile_size,
// stride, min_tissue; docs/Data.md). They change which examples exist, so
// they travel with the weights as the normalisation does.
using DataOptions = std::map<std::string, double>;
// The option names `format`'s reader takes (none for most formats).
const std::vector<std::string> &dataOptionNames(const std::string &format);
// Fails on an option `format` does not take, naming it and those it does.
Status checkDataOptions(const std::string &format, const DataOptions &options);
// Metadata keys of weights.safetensors.
constexpr const char *kDataFormatKey = "pce.data.format";
constexpr const char *kDataMeanKey = "pce.data.mean";       // "0.286" or "0.4914,0.4822,0.4465"
constexpr const char *kDataStdKey = "pce.data.std";         // same length as the mean
constexpr const char *kDataClassesKey = "pce.data.classes"; // a JSON array of strings, optional
constexpr const char *kDataOptionsKey = "pce.data.options"; // a JSON object of numbers, optional

struct DataDescription {
  std::string format;               // idx, ...
  std::vector<float> mean, std;     // one per channel; std > 0
  std::vector<std::string> classes; // empty when the data set names none
  DataOptions options;              // the reader's, when given

  bool operator==(const DataDescription &o) const {
    return format == o.format && mean == o.mean && std == o.std && classes == o.classes && options == o.options;
  }
};

// The metadata entries of `data` (after checking it: a format, as many means
// as stds, at least one, finite, std > 0).
Expected<std::map<std::string, std::string>> dataMetadata(const DataDescription &data);
// The description in `metadata` (from `source`, for messages); nullopt when
// it has none of the keys, an error when it has some but not all, or a value
// that does not parse ("W.safetensors: metadata 'pce.data.std': ...").
Expected<std::optional<DataDescription>> readDataMetadata(const std::map<std::string, std::string> &metadata,
                                                          const std::string &source);
// {"format", "mean", "std", "classes"} for summary.json.
JsonValue dataDescriptionJson(const DataDescription &data);

// Which data a result came from: its path, the images read, and a hash of
// the file list under the path (FNV-1a 64 of every regular file's relative
// name and size, sorted by name), so two runs can tell whether they read the
// same files without hashing gigabytes.
struct DataFingerprint {
  std::string path;
  int64_t images = 0;
  std::string filesHash; // 16 hex digits
};
Expected<DataFingerprint> fingerprintData(const std::string &path, int64_t images);
// pce.data.path / pce.data.images / pce.data.files_hash, and the same in JSON.
std::map<std::string, std::string> fingerprintMetadata(const DataFingerprint &fingerprint);
void addFingerprintJson(JsonValue &data, const DataFingerprint &fingerprint);
// "0.286,0.353": the shortest text of each float that reads back the same.
std::string formatFloats(const std::vector<float> &values);

} // namespace pce::rt

#endif // PCE_RUNTIME_DATADESCRIPTION_H
