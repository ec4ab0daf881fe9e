//===- DataSource.h - a data set's examples, decoded on demand ------------===//
//
// A reader opens one split of a data set in its published layout, validates
// its index (file lists, annotations, headers) up front, and decodes an
// example only when asked, so a data set that does not fit in memory streams.
// load() may be called from several threads at once.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_DATASOURCE_H
#define PCE_RUNTIME_DATASETS_DATASOURCE_H

#include "runtime/Status.h"
#include "runtime/datasets/Image.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pce::rt {

class DataSource {
public:
  virtual ~DataSource() = default;
  virtual int64_t size() const = 0;
  virtual Task task() const = 0;
  // Class names; index i is label i (for masks: pixel value i).
  virtual const std::vector<std::string> &classes() const = 0;
  // Example i in [0, size()): decoded pixels and its labels, or an error
  // naming the file and byte offset (line:column for text) of bad data.
  virtual Expected<Sample> load(int64_t i) const = 0;
  // Example i's class without decoding its pixels where the reader's index
  // knows it (Classification only); the default decodes.
  virtual Expected<int64_t> classOf(int64_t i) const {
    auto sample = load(i);
    if (!sample)
      return sample.status();
    return sample->label;
  }
  // The files this split was read from (for messages and fingerprints).
  virtual std::string source() const = 0;
};

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_DATASOURCE_H
