//===- PCam.cpp - PatchCamelyon (PCam), HDF5 version ----------------------===//

#include "runtime/datasets/PCam.h"

#include "runtime/Failure.h"
#include "runtime/datasets/Contained.h"

#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <vector>

namespace pce::rt {

namespace fs = std::filesystem;
using detail::fail;

namespace {

// Beyond this a header is lying (PCam's train split holds 2^18 patches); the
// bound keeps a damaged file from asking for terabytes of labels.
constexpr int64_t kMaxPatches = int64_t(1) << 28;
constexpr int64_t kMaxPatchBytes = int64_t(1) << 28;

std::mutex &hdf5Mutex() {
  static std::mutex m;
  return m;
}

// Held around every HDF5 call. Automatic error printing is switched off each
// time because a thread-safe HDF5 keeps that setting per thread.
class Hdf5Lock {
public:
  Hdf5Lock() : lock_(hdf5Mutex()) { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

private:
  std::lock_guard<std::mutex> lock_;
};

// An HDF5 id closed by its kind's close function.
class Hid {
public:
  Hid() = default;
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Hid(Hid &&o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Hid &operator=(Hid &&o) noexcept {
    std::swap(id_, o.id_);
    std::swap(close_, o.close_);
    return *this;
  }
  ~Hid() {
    if (id_ >= 0 && close_)
      close_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

private:
  hid_t id_ = H5I_INVALID_HID;
  herr_t (*close_)(hid_t) = nullptr;
};

herr_t innermost(unsigned n, const H5E_error2_t *e, void *out) {
  if (n == 0 && e && e->desc)
    *static_cast<std::string *>(out) = e->desc;
  return 0;
}

// HDF5's most specific message for the failure just seen (walked upward, the
// first entry is where the problem was detected), then the stack is cleared.
std::string hdf5Detail() {
  std::string desc;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &desc);
  H5Eclear2(H5E_DEFAULT);
  return desc.empty() ? std::string() : " (HDF5: " + desc + ")";
}

std::string dimsText(const std::vector<hsize_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

std::string typeText(hid_t type) {
  H5T_class_t cls = H5Tget_class(type);
  size_t bits = H5Tget_size(type) * 8;
  switch (cls) {
  case H5T_INTEGER:
    return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
  case H5T_FLOAT: return "float" + std::to_string(bits);
  case H5T_STRING: return "string";
  case H5T_COMPOUND: return "compound";
  case H5T_ENUM: return "enum";
  case H5T_ARRAY: return "array";
  case H5T_VLEN: return "variable-length";
  case H5T_OPAQUE: return "opaque";
  case H5T_REFERENCE: return "reference";
  case H5T_BITFIELD: return "bitfield";
  default: return "an unknown type";
  }
}

herr_t collectName(hid_t, const char *name, const H5L_info_t *, void *out) {
  auto *names = static_cast<std::vector<std::string> *>(out);
  if (names->size() < 8)
    names->push_back(name);
  return 0;
}

// An open file: read-only, closing it closes everything opened in it.
Hid openFile(const std::string &path, const std::string_view *image) {
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl.valid() || H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG) < 0)
    fail(path + ": cannot set up HDF5 file access" + hdf5Detail());
  if (image) {
    if (image->empty())
      fail(path + ": empty file (not an HDF5 file)");
    // The core driver holds a copy of the bytes; nothing touches the disk.
    if (H5Pset_fapl_core(fapl.get(), 1 << 16, false) < 0 ||
        H5Pset_file_image(fapl.get(), const_cast<char *>(image->data()), image->size()) < 0)
      fail(path + ": cannot open the bytes as an HDF5 file image" + hdf5Detail());
  } else {
    std::error_code ec;
    if (!fs::exists(path, ec))
      fail(path + ": no such file");
    if (!fs::is_regular_file(path, ec))
      fail(path + ": not a regular file");
    if (fs::file_size(path, ec) == 0)
      fail(path + ": empty file (not an HDF5 file)");
    htri_t is = H5Fis_hdf5(path.c_str());
    if (is == 0)
      fail(path + ": not an HDF5 file (no HDF5 signature at byte 0, 512, 1024, ...)");
    if (is < 0)
      fail(path + ": cannot read the file" + hdf5Detail());
  }
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!file.valid())
    fail(path + ": cannot open as an HDF5 file" + hdf5Detail());
  return file;
}

struct Dataset {
  Hid set, space;
  std::vector<hsize_t> dims, maxDims;
  size_t typeSize = 0;
};

// Checked once the shape is known to be PCam's: the layout must hold
// exactly the data the shape claims, so a lying header is found at open (a
// chunk that was never written would read as zeros). HDF5 1.10 also reads
// past its buffers when a damaged layout gives chunks larger than the
// dataset (H5Dcreate never writes one), so those are refused before any read.
void checkStorage(const Dataset &d, const std::string &path, const char *name) {
  Hid dcpl(H5Dget_create_plist(d.set.get()), H5Pclose);
  H5D_layout_t layout = dcpl.valid() ? H5Pget_layout(dcpl.get()) : H5D_LAYOUT_ERROR;
  if (layout == H5D_LAYOUT_ERROR)
    fail(path + ": dataset '" + name + "': cannot read its storage layout" + hdf5Detail());
  const std::string shape = "shape " + dimsText(d.dims);
  hsize_t elements = 1;
  for (hsize_t n : d.dims)
    elements *= n; // at most 2^56: both factors are bounded by the shape checks
  if (layout != H5D_CHUNKED) {
    hsize_t need = elements * d.typeSize, stored = H5Dget_storage_size(d.set.get());
    if (stored != need)
      fail(path + ": dataset '" + name + "': " + shape + " needs " + std::to_string(need) + " bytes but " +
           std::to_string(stored) + " are stored (truncated or damaged)" + hdf5Detail());
    return;
  }
  std::vector<hsize_t> chunk(d.dims.size() + 1, 0);
  int rank = H5Pget_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
  chunk.resize(rank < 0 ? 0 : static_cast<size_t>(rank));
  bool fits = chunk.size() == d.dims.size();
  hsize_t chunkBytes = d.typeSize, chunks = 1;
  for (size_t k = 0; fits && k < chunk.size(); ++k) {
    fits = chunk[k] > 0 && chunk[k] <= (hsize_t(1) << 32) &&
           (d.maxDims[k] == H5S_UNLIMITED || chunk[k] <= d.maxDims[k]);
    chunkBytes *= fits ? chunk[k] : 1;
    fits = fits && chunkBytes < (hsize_t(1) << 32);
    chunks *= fits ? (d.dims[k] + chunk[k] - 1) / chunk[k] : 1;
  }
  if (!fits)
    fail(path + ": dataset '" + name + "': damaged storage layout: chunks of " + dimsText(chunk) +
         " do not fit its " + shape + hdf5Detail());
  hsize_t stored = 0;
  if (H5Dget_num_chunks(d.set.get(), d.space.get(), &stored) < 0)
    fail(path + ": dataset '" + name + "': cannot read its chunk index" + hdf5Detail());
  if (stored != chunks)
    fail(path + ": dataset '" + name + "': " + shape + " in chunks of " + dimsText(chunk) + " needs " +
         std::to_string(chunks) + " chunks but " + std::to_string(stored) + " are stored (truncated or damaged)");
}

// Opens dataset `name` at the file's root and checks its element type; the
// messages say what a PCam file holds.
Dataset openDataset(hid_t file, const std::string &path, const char *name, bool pixels) {
  htri_t exists = H5Lexists(file, name, H5P_DEFAULT);
  if (exists <= 0) {
    std::vector<std::string> names;
    H5Literate(file, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, collectName, &names);
    H5Eclear2(H5E_DEFAULT);
    std::string found;
    for (const std::string &n : names)
      found += (found.empty() ? "" : ", ") + ("'" + n + "'");
    fail(path + ": no dataset '" + name + "' at the root (found " + (found.empty() ? "nothing" : found) +
         "; is this a PCam _" + name + " file?)");
  }
  // A chunk cache that holds several chunks: HDF5's default (1 MiB) caches
  // none of a file chunked in larger blocks, so each patch would inflate one.
  Hid dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  if (dapl.valid())
    H5Pset_chunk_cache(dapl.get(), 12421, size_t(32) << 20, H5D_CHUNK_CACHE_W0_DEFAULT);
  Dataset d;
  d.set = Hid(H5Dopen2(file, name, dapl.valid() ? dapl.get() : H5P_DEFAULT), H5Dclose);
  if (!d.set.valid())
    fail(path + ": '" + name + "' is not a readable dataset" + hdf5Detail());
  Hid type(H5Dget_type(d.set.get()), H5Tclose);
  d.space = Hid(H5Dget_space(d.set.get()), H5Sclose);
  if (!type.valid() || !d.space.valid())
    fail(path + ": dataset '" + name + "': cannot read its type and shape" + hdf5Detail());
  H5T_class_t cls = H5Tget_class(type.get());
  bool ok = pixels ? cls == H5T_INTEGER && H5Tget_size(type.get()) == 1 && H5Tget_sign(type.get()) == H5T_SGN_NONE
                   : cls == H5T_INTEGER;
  if (!ok)
    fail(path + ": dataset '" + name + "': expected " + (pixels ? "uint8 pixels" : "integer labels") + ", found " +
         typeText(type.get()));
  // HDF5 never writes an integer of 0 bytes, but reads one: then the layout
  // stores 0 bytes for any shape, and every label is converted from nothing.
  const size_t typeSize = H5Tget_size(type.get());
  if (typeSize == 0 || typeSize > 8)
    fail(path + ": dataset '" + name + "': its integer type is " + std::to_string(typeSize) +
         " bytes wide (damaged: an integer is 1 to 8 bytes)");
  if (H5Sget_simple_extent_type(d.space.get()) != H5S_SIMPLE)
    fail(path + ": dataset '" + name + "': expected an array, found a scalar or empty dataspace");
  int rank = H5Sget_simple_extent_ndims(d.space.get());
  if (rank < 1 || rank > 8)
    fail(path + ": dataset '" + name + "': cannot read its shape" + hdf5Detail());
  d.dims.resize(rank);
  d.maxDims.resize(rank);
  d.typeSize = typeSize;
  if (H5Sget_simple_extent_dims(d.space.get(), d.dims.data(), d.maxDims.data()) < 0)
    fail(path + ": dataset '" + name + "': cannot read its shape" + hdf5Detail());
  if (d.dims[0] == 0)
    fail(path + ": dataset '" + name + "': no patches (shape " + dimsText(d.dims) + ")");
  if (d.dims[0] > static_cast<hsize_t>(kMaxPatches))
    fail(path + ": dataset '" + name + "': shape " + dimsText(d.dims) + " claims more patches than a PCam split " +
         "holds (at most 2^28)");
  return d;
}

PCamArrayInfo checkX(const Dataset &d, const std::string &path) {
  const auto &dims = d.dims;
  if (dims.size() != 4 || (dims[3] != 1 && dims[3] != 3) || dims[1] == 0 || dims[2] == 0)
    fail(path + ": dataset 'x': expected uint8 [N,96,96,3] (or [N,H,W,1|3]), found shape " + dimsText(dims));
  if (dims[1] > static_cast<hsize_t>(kMaxPatchBytes) || dims[2] > static_cast<hsize_t>(kMaxPatchBytes) ||
      dims[1] * dims[2] * dims[3] > static_cast<hsize_t>(kMaxPatchBytes))
    fail(path + ": dataset 'x': shape " + dimsText(dims) + ": a patch of more than 256 MiB is not PCam's");
  checkStorage(d, path, "x");
  PCamArrayInfo info;
  info.count = static_cast<int64_t>(dims[0]);
  info.height = static_cast<int64_t>(dims[1]);
  info.width = static_cast<int64_t>(dims[2]);
  info.channels = static_cast<int64_t>(dims[3]);
  return info;
}

// Reads patch i of a checked x dataset (the HDF5 lock held).
Image readPatch(const Dataset &d, const PCamArrayInfo &info, int64_t i, const std::string &path) {
  Image image(info.height, info.width, info.channels);
  hsize_t start[4] = {static_cast<hsize_t>(i), 0, 0, 0};
  hsize_t count[4] = {1, d.dims[1], d.dims[2], d.dims[3]};
  Hid file(H5Scopy(d.space.get()), H5Sclose);
  Hid memory(H5Screate_simple(4, count, nullptr), H5Sclose);
  if (!file.valid() || !memory.valid() ||
      H5Sselect_hyperslab(file.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
      H5Dread(d.set.get(), H5T_NATIVE_UINT8, memory.get(), file.get(), H5P_DEFAULT, image.pixels.data()) < 0)
    fail(path + ": dataset 'x': cannot read patch " + std::to_string(i) + " of " + std::to_string(info.count) +
         hdf5Detail());
  return image;
}

// Checks the y dataset's shape and reads every label (0 or 1).
std::vector<uint8_t> readLabels(const Dataset &d, const std::string &path) {
  const auto &dims = d.dims;
  for (size_t k = 1; k < dims.size(); ++k)
    if (dims[k] != 1)
      fail(path + ": dataset 'y': expected [N,1,1,1] (or [N]), found shape " + dimsText(dims));
  checkStorage(d, path, "y");
  const hsize_t n = dims[0];
  std::vector<uint8_t> labels(n);
  // Read in slices as int64 so every stored value (a negative one too) is seen.
  const hsize_t slice = 1 << 20;
  std::vector<int64_t> buf(std::min(n, slice));
  std::vector<hsize_t> start(dims.size(), 0), count(dims.size(), 1);
  Hid file(H5Scopy(d.space.get()), H5Sclose);
  for (hsize_t at = 0; at < n; at += slice) {
    hsize_t m = std::min(slice, n - at);
    start[0] = at;
    count[0] = m;
    Hid memory(H5Screate_simple(1, &m, nullptr), H5Sclose);
    if (!file.valid() || !memory.valid() ||
        H5Sselect_hyperslab(file.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0 ||
        H5Dread(d.set.get(), H5T_NATIVE_INT64, memory.get(), file.get(), H5P_DEFAULT, buf.data()) < 0)
      fail(path + ": dataset 'y': cannot read labels " + std::to_string(at) + ".." + std::to_string(at + m - 1) +
           hdf5Detail());
    for (hsize_t k = 0; k < m; ++k) {
      if (buf[k] != 0 && buf[k] != 1)
        fail(path + ": dataset 'y': label " + std::to_string(at + k) + " is " + std::to_string(buf[k]) +
             " (expected 0 = normal or 1 = tumour)");
      labels[at + k] = static_cast<uint8_t>(buf[k]);
    }
  }
  return labels;
}

class PCamSource final : public DataSource {
public:
  PCamSource(std::string xPath, std::string yPath, Hid xFile, Dataset x, PCamArrayInfo info,
             std::vector<uint8_t> labels)
      : xPath_(std::move(xPath)), yPath_(std::move(yPath)), xFile_(std::move(xFile)), x_(std::move(x)),
        info_(info), labels_(std::move(labels)) {}
  ~PCamSource() override {
    Hdf5Lock lock;
    x_ = Dataset();
    xFile_ = Hid();
  }

  int64_t size() const override { return info_.count; }
  Task task() const override { return Task::Classification; }
  const std::vector<std::string> &classes() const override { return classes_; }
  std::string source() const override { return xPath_ + ", " + yPath_; }

  Expected<Sample> load(int64_t i) const override {
    return detail::guard<Sample>([&] {
      if (i < 0 || i >= info_.count)
        fail(xPath_ + ": patch " + std::to_string(i) + " is out of range (the split has " +
             std::to_string(info_.count) + ")");
      Sample s;
      {
        Hdf5Lock lock;
        s.image = readPatch(x_, info_, i, xPath_);
      }
      s.label = labels_[static_cast<size_t>(i)];
      s.source = xPath_;
      return s;
    });
  }

private:
  std::string xPath_, yPath_;
  Hid xFile_;
  Dataset x_;
  PCamArrayInfo info_;
  std::vector<uint8_t> labels_;
  std::vector<std::string> classes_{"normal", "tumour"};
};

} // namespace

Expected<std::string> pcamFile(const std::string &dir, const std::string &split, char xOrY) {
  std::string name;
  if (split == "train" || split == "test")
    name = split;
  else if (split == "val" || split == "valid")
    name = "valid";
  else
    return Status::error("PCam: unknown split '" + split + "' (expected train, val or test)");
  if (xOrY != 'x' && xOrY != 'y')
    return Status::error("PCam: a split has an x and a y file, not '" + std::string(1, xOrY) + "'");
  return (fs::path(dir) / ("camelyonpatch_level_2_split_" + name + "_" + xOrY + ".h5")).string();
}

Expected<std::unique_ptr<DataSource>> openPCam(const std::string &dir, const std::string &split) {
  auto xPath = pcamFile(dir, split, 'x');
  auto yPath = pcamFile(dir, split, 'y');
  if (!xPath)
    return xPath.status();
  return detail::guard<std::unique_ptr<DataSource>>([&]() -> std::unique_ptr<DataSource> {
    Hdf5Lock lock;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      fail(dir + ": not a directory (expected the PCam .h5 files in it)");
    // Each file's metadata is read in a child first (Contained.h).
    auto checkY = [&] {
      Hid yFile = openFile(*yPath, nullptr);
      Dataset y = openDataset(yFile.get(), *yPath, "y", false);
      return readLabels(y, *yPath);
    };
    if (Status s = runContained([&] { checkY(); }, *yPath); !s)
      fail(s.message());
    std::vector<uint8_t> labels = checkY();
    if (Status s = runContained(
            [&] {
              Hid f = openFile(*xPath, nullptr);
              checkX(openDataset(f.get(), *xPath, "x", true), *xPath);
            },
            *xPath);
        !s)
      fail(s.message());
    Hid xFile = openFile(*xPath, nullptr);
    Dataset x = openDataset(xFile.get(), *xPath, "x", true);
    PCamArrayInfo info = checkX(x, *xPath);
    if (static_cast<size_t>(info.count) != labels.size())
      fail(*xPath + ": dataset 'x' holds " + std::to_string(info.count) + " patches but " + *yPath +
           ": dataset 'y' holds " + std::to_string(labels.size()) + " labels");
    info.tumour = std::count(labels.begin(), labels.end(), 1);
    return std::make_unique<PCamSource>(*xPath, *yPath, std::move(xFile), std::move(x), info, std::move(labels));
  });
}

Expected<PCamArrayInfo> inspectPCamFile(std::string_view bytes, const std::string &source, char xOrY,
                                        double probeSeconds) {
  if (xOrY != 'x' && xOrY != 'y')
    return Status::error(source + ": a PCam file is an x or a y file, not '" + std::string(1, xOrY) + "'");
  return detail::guard<PCamArrayInfo>([&] {
    Hdf5Lock lock;
    if (Status s = runContained(
            [&] {
              Hid f = openFile(source, &bytes);
              Dataset d = openDataset(f.get(), source, xOrY == 'x' ? "x" : "y", xOrY == 'x');
              if (xOrY == 'x') {
                PCamArrayInfo info = checkX(d, source);
                readPatch(d, info, 0, source);
                readPatch(d, info, info.count - 1, source);
              } else
                readLabels(d, source);
            },
            source, probeSeconds);
        !s)
      fail(s.message());
    Hid file = openFile(source, &bytes);
    if (xOrY == 'y') {
      Dataset y = openDataset(file.get(), source, "y", false);
      std::vector<uint8_t> labels = readLabels(y, source);
      PCamArrayInfo info;
      info.count = static_cast<int64_t>(labels.size());
      info.tumour = std::count(labels.begin(), labels.end(), 1);
      return info;
    }
    Dataset x = openDataset(file.get(), source, "x", true);
    PCamArrayInfo info = checkX(x, source);
    readPatch(x, info, 0, source);
    readPatch(x, info, info.count - 1, source);
    return info;
  });
}

} // namespace pce::rt
