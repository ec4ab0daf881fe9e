//===- Voc.cpp - Pascal VOC 2007/2012 detection and segmentation ----------===//
//
// openVoc reads the split list and every annotation it names, and checks
// that the images (and masks) exist, so a damaged or incomplete tree fails
// at open rather than hours into training; load() decodes one example and
// needs nothing but the immutable index, so threads may call it at once.
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/Voc.h"

#include "runtime/FileIO.h"
#include "runtime/Failure.h"
#include "runtime/datasets/ImageCodec.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>

namespace pce::rt {

using detail::fail;

namespace {

namespace fs = std::filesystem;

const char *kSplits[] = {"train", "val", "trainval", "test"};

bool isIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.';
}

// One line of a split list.
struct ListedId {
  std::string id;
  int64_t line = 0;
};

// A split list: one image id a line, surrounding whitespace ignored, blank
// lines skipped; anything else (a per-class "id  1" line, a path) is an error.
std::vector<ListedId> parseIdList(std::string_view text, const std::string &source) {
  std::vector<ListedId> ids;
  std::set<std::string> seen;
  int64_t line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    ++line;
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    pos = end + 1;
    size_t first = l.find_first_not_of(" \t\r\f\v");
    if (first == std::string_view::npos)
      continue;
    size_t last = l.find_last_not_of(" \t\r\f\v");
    std::string_view id = l.substr(first, last - first + 1);
    for (size_t i = 0; i < id.size(); ++i)
      if (!isIdChar(id[i]))
        fail(source + ":" + std::to_string(line) + ":" + std::to_string(first + i + 1) + ": '" +
             std::string(id.substr(0, 60)) + "' is not an image id (a list holds one id a line: letters, digits, "
             "'_', '-', '.')");
    if (id.front() == '.')
      fail(source + ":" + std::to_string(line) + ":" + std::to_string(first + 1) + ": '" + std::string(id) +
           "' is not an image id (it starts with '.')");
    if (!seen.insert(std::string(id)).second)
      fail(source + ":" + std::to_string(line) + ":" + std::to_string(first + 1) + ": image id '" + std::string(id) +
           "' listed twice");
    ids.push_back({std::string(id), line});
  }
  if (ids.empty())
    fail(source + ": lists no images");
  return ids;
}

bool isFile(const std::string &path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// readWholeFile, with the list line that required the file in the message.
std::string readListed(const std::string &path, const std::string &why) {
  try {
    return detail::readWholeFile(path);
  } catch (const detail::Failure &f) {
    fail(std::string(f.what()) + " (" + why + ")");
  }
}

std::vector<std::string> findClasses(const std::string &root, const std::string &split) {
  const std::string dir = root + "/ImageSets/Main";
  std::vector<std::string> order = {split};
  for (const char *s : {"trainval", "train", "val", "test"})
    if (s != split)
      order.push_back(s);
  std::error_code ec;
  std::vector<std::string> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    files.push_back(it->path().filename().string());
  for (const std::string &s : order) {
    const std::string suffix = "_" + s + ".txt";
    std::vector<std::string> classes;
    for (const std::string &f : files)
      if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          isFile(dir + "/" + f))
        classes.push_back(f.substr(0, f.size() - suffix.size()));
    if (!classes.empty()) {
      std::sort(classes.begin(), classes.end());
      return classes;
    }
  }
  return vocClassNames();
}

class VocSource final : public DataSource {
public:
  struct Entry {
    std::string id;
    int64_t line = 0;
    std::optional<VocAnnotation> annotation;
  };

  VocSource(std::string root, std::string list, Task task, std::vector<std::string> classes,
            std::vector<Entry> entries)
      : root_(std::move(root)), list_(std::move(list)), task_(task), classes_(std::move(classes)),
        entries_(std::move(entries)) {}

  int64_t size() const override { return int64_t(entries_.size()); }
  Task task() const override { return task_; }
  const std::vector<std::string> &classes() const override { return classes_; }
  std::string source() const override { return list_; }

  Expected<Sample> load(int64_t i) const override {
    if (i < 0 || i >= size())
      return Status::error(list_ + ": example " + std::to_string(i) + " is out of range (the split has " +
                           std::to_string(size()) + ")");
    return detail::guard<Sample>([&] { return loadEntry(entries_[size_t(i)]); });
  }

private:
  std::string listedIn(const Entry &e) const { return "image listed in " + list_ + ":" + std::to_string(e.line); }

  Sample loadEntry(const Entry &e) const {
    Sample s;
    s.source = root_ + "/JPEGImages/" + e.id + ".jpg";
    auto image = decodeJpeg(readListed(s.source, listedIn(e)), s.source);
    if (!image)
      fail(image.error());
    s.image = std::move(*image);
    if (s.image.channels == 1) { // VOC has a few grayscale JPEGs; models take RGB
      Image rgb(s.image.height, s.image.width, 3);
      for (size_t p = 0; p < s.image.pixels.size(); ++p)
        rgb.pixels[3 * p] = rgb.pixels[3 * p + 1] = rgb.pixels[3 * p + 2] = s.image.pixels[p];
      s.image = std::move(rgb);
    }
    if (e.annotation && (e.annotation->width != s.image.width || e.annotation->height != s.image.height))
      fail(s.source + ": the image is " + std::to_string(s.image.width) + "x" + std::to_string(s.image.height) +
           " (width x height) but " + annotationPath(e) + " says " + std::to_string(e.annotation->width) + "x" +
           std::to_string(e.annotation->height));
    if (task_ == Task::Detection) {
      s.boxes = e.annotation->boxes;
      return s;
    }
    const std::string maskPath = root_ + "/SegmentationClass/" + e.id + ".png";
    auto mask = decodePngIndices(readListed(maskPath, listedIn(e)), maskPath);
    if (!mask)
      fail(mask.error());
    if (mask->width != s.image.width || mask->height != s.image.height)
      fail(maskPath + ": the mask is " + std::to_string(mask->width) + "x" + std::to_string(mask->height) +
           " (width x height) but its image " + s.source + " is " + std::to_string(s.image.width) + "x" +
           std::to_string(s.image.height));
    const size_t classes = classes_.size();
    for (size_t p = 0; p < mask->pixels.size(); ++p) {
      uint8_t v = mask->pixels[p];
      if (v >= classes && v != kVoidLabel)
        fail(maskPath + ": pixel (x=" + std::to_string(int64_t(p) % mask->width) +
             ", y=" + std::to_string(int64_t(p) / mask->width) + ") has value " + std::to_string(v) +
             ", not a class (0.." + std::to_string(classes - 1) + ") or " + std::to_string(kVoidLabel) + " (void)");
    }
    s.mask = std::move(*mask);
    return s;
  }

  std::string annotationPath(const Entry &e) const { return root_ + "/Annotations/" + e.id + ".xml"; }

  std::string root_, list_;
  Task task_;
  std::vector<std::string> classes_;
  std::vector<Entry> entries_;
};

std::unique_ptr<DataSource> open(const std::string &root, const std::string &split, Task task) {
  if (std::find(std::begin(kSplits), std::end(kSplits), split) == std::end(kSplits))
    fail("VOC split '" + split + "' is not one of train, val, trainval, test");
  if (task == Task::Classification)
    fail("VOC has no classification task (open it for Detection or Segmentation)");
  const bool detection = task == Task::Detection;
  const std::string list = root + "/ImageSets/" + (detection ? "Main/" : "Segmentation/") + split + ".txt";
  std::string text;
  try {
    text = detail::readWholeFile(list);
  } catch (const detail::Failure &f) {
    fail(std::string(f.what()) + " (the " + split + " list of VOC " + (detection ? "detection" : "segmentation") +
         "; is " + root + " a VOC year directory such as VOCdevkit/VOC2012?)");
  }
  std::vector<ListedId> ids = parseIdList(text, list);
  std::vector<std::string> objectClasses = findClasses(root, split);
  std::vector<std::string> classes = objectClasses;
  if (!detection) {
    classes.insert(classes.begin(), "background");
    if (classes.size() > kVoidLabel)
      fail(root + ": " + std::to_string(objectClasses.size()) +
           " classes do not fit in a mask (values 1..254; 255 is void)");
  }
  std::vector<VocSource::Entry> entries;
  entries.reserve(ids.size());
  for (const ListedId &l : ids) {
    VocSource::Entry e{l.id, l.line, std::nullopt};
    const std::string why = "image listed in " + list + ":" + std::to_string(l.line);
    const std::string xml = root + "/Annotations/" + l.id + ".xml";
    if (detection || isFile(xml)) {
      auto a = parseVocAnnotation(readListed(xml, why), xml, objectClasses);
      if (!a)
        fail(a.error());
      e.annotation = std::move(*a);
    }
    const std::string jpeg = root + "/JPEGImages/" + l.id + ".jpg";
    if (!isFile(jpeg))
      fail(jpeg + ": no such file (" + why + ")");
    const std::string mask = root + "/SegmentationClass/" + l.id + ".png";
    if (!detection && !isFile(mask))
      fail(mask + ": no such file (the mask of the " + why + ")");
    entries.push_back(std::move(e));
  }
  return std::make_unique<VocSource>(root, list, task, std::move(classes), std::move(entries));
}

} // namespace

Expected<std::vector<std::string>> vocClasses(const std::string &root, const std::string &split) {
  return detail::guard<std::vector<std::string>>([&] { return findClasses(root, split); });
}

Expected<std::unique_ptr<DataSource>> openVoc(const std::string &root, const std::string &split, Task task) {
  return detail::guard<std::unique_ptr<DataSource>>([&] { return open(root, split, task); });
}

} // namespace pce::rt
