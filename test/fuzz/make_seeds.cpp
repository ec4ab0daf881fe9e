//===- make_seeds.cpp - starting corpora for the data readers' fuzzers ----===//
//
// scripts/fuzz-data.sh runs this once: it writes, for every fuzz target, a
// few valid inputs in the published format (written through the same
// libraries the readers use), so mutation starts from real structure
// rather than from nothing. Usage: make_seeds OUT_DIR
//
//===----------------------------------------------------------------------===//

#include "runtime/datasets/ImageCodec.h"

#include <hdf5.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace pce::rt;
namespace fs = std::filesystem;

namespace {

void put(const fs::path &p, const std::string &bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

Image gradient(int64_t h, int64_t w, int64_t c) {
  Image img(h, w, c);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k)
        img.at(y, x, k) = uint8_t(x * 7 + y * 3 + k * 50);
  return img;
}

// A PCam-like HDF5 file with one uint8 dataset `name` of `dims`, as bytes.
std::string hdf5File(const fs::path &tmp, const char *name, std::vector<hsize_t> dims, bool chunked) {
  hid_t file = H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
  if (chunked) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = 1;
    H5Pset_chunk(plist, int(chunk.size()), chunk.data());
    H5Pset_deflate(plist, 4);
  }
  hid_t set = H5Dcreate2(file, name, H5T_STD_U8LE, space, H5P_DEFAULT, plist, H5P_DEFAULT);
  size_t n = 1;
  for (hsize_t d : dims)
    n *= size_t(d);
  std::vector<uint8_t> values(n);
  for (size_t i = 0; i < n; ++i)
    values[i] = dims.size() == 4 && dims[1] == 1 ? uint8_t(i % 2) : uint8_t(i * 13);
  H5Dwrite(set, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(set), H5Pclose(plist), H5Sclose(space), H5Fclose(file);
  std::ifstream in(tmp, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  fs::remove(tmp);
  return bytes;
}

std::string be32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  // image_codec: JPEG (RGB, gray), PNG (gray, RGB, RGBA), a palette PNG
  put(out / "image_codec" / "rgb.jpg", *encodeJpeg(gradient(16, 24, 3), 80));
  put(out / "image_codec" / "gray.jpg", *encodeJpeg(gradient(9, 7, 1), 90));
  put(out / "image_codec" / "gray.png", *encodePng(gradient(5, 6, 1)));
  put(out / "image_codec" / "rgb.png", *encodePng(gradient(8, 8, 3)));
  put(out / "image_codec" / "rgba.png", *encodePng(gradient(4, 3, 4)));
  Image mask(6, 6, 1, 0);
  mask.at(2, 2) = 1, mask.at(3, 3) = 2;
  put(out / "image_codec" / "mask.png", *encodePalettePng(mask, {{0, 0, 0}, {128, 0, 0}, {0, 128, 0}}));
  // voc_xml: an annotation as VOC writes them
  put(out / "voc_xml" / "000001.xml",
      "<annotation><folder>VOC2007</folder><filename>000001.jpg</filename>"
      "<size><width>353</width><height>500</height><depth>3</depth></size><segmented>0</segmented>"
      "<object><name>dog</name><pose>Left</pose><truncated>1</truncated><difficult>0</difficult>"
      "<bndbox><xmin>48</xmin><ymin>240</ymin><xmax>195</xmax><ymax>371</ymax></bndbox></object>"
      "<object><name>person</name><pose>Left</pose><truncated>1</truncated><difficult>1</difficult>"
      "<bndbox><xmin>8.0</xmin><ymin>12</ymin><xmax>352</xmax><ymax>498</ymax></bndbox></object></annotation>\n");
  // asap_xml: Camelyon16's lesion annotations
  put(out / "asap_xml" / "tumor_001.xml",
      "<?xml version=\"1.0\"?>\n<ASAP_Annotations><Annotations>"
      "<Annotation Name=\"_0\" Type=\"Polygon\" PartOfGroup=\"_0\" Color=\"#F4FA58\"><Coordinates>"
      "<Coordinate Order=\"0\" X=\"100.5\" Y=\"100\" /><Coordinate Order=\"1\" X=\"300\" Y=\"120\" />"
      "<Coordinate Order=\"2\" X=\"250\" Y=\"400\" /></Coordinates></Annotation>"
      "<Annotation Name=\"_1\" Type=\"Polygon\" PartOfGroup=\"_2\" Color=\"#F4FA58\"><Coordinates>"
      "<Coordinate Order=\"1\" X=\"150\" Y=\"150\" /><Coordinate Order=\"0\" X=\"200\" Y=\"150\" />"
      "<Coordinate Order=\"2\" X=\"180\" Y=\"200\" /></Coordinates></Annotation>"
      "</Annotations><AnnotationGroups><Group Name=\"_0\" PartOfGroup=\"None\" Color=\"#ff0000\"><Attributes />"
      "</Group></AnnotationGroups></ASAP_Annotations>\n");
  // pcam: x and y files (contiguous and chunked + deflate, as the real ones)
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  put(out / "pcam" / "x.h5", hdf5File(out / "tmp.h5", "x", {2, 96, 96, 3}, true));
  put(out / "pcam" / "x-contiguous.h5", hdf5File(out / "tmp.h5", "x", {1, 8, 8, 3}, false));
  put(out / "pcam" / "y.h5", hdf5File(out / "tmp.h5", "y", {4, 1, 1, 1}, false));
  // tiny_imagenet: wnids.txt, words.txt, a _boxes.txt, val_annotations.txt
  put(out / "tiny_imagenet" / "index",
      "n00000001\n--\nn00000001\tgoldfish, Carassius auratus\n--\n"
      "n00000001_0.JPEG\t0\t1\t62\t63\nn00000001_1.JPEG\t5\t5\t20\t20\n"
      "n00000001_2.JPEG\t0\t0\t63\t63\nn00000001_3.JPEG\t1\t2\t3\t4\n--\n"
      "val_0.JPEG\tn00000001\t0\t32\t44\t62\nval_1.JPEG\tn00000001\t1\t2\t3\t4\n"
      "val_2.JPEG\tn00000001\t1\t2\t3\t4\nval_3.JPEG\tn00000001\t1\t2\t3\t4\n");
  // arrays: IDX images (u8 [2,3,3]), a .npy (f32 [2,2]), a CIFAR-10 record
  put(out / "arrays" / "images.idx",
      std::string("\0\0\x08\x03", 4) + be32(2) + be32(3) + be32(3) + std::string(18, '\x07'));
  std::string npyHeader = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  // magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes
  npyHeader.append((10 + npyHeader.size() + 1 + 63) / 64 * 64 - 10 - npyHeader.size() - 1, ' ');
  npyHeader += '\n';
  put(out / "arrays" / "a.npy", std::string("\x93NUMPY\x01\x00", 8) + char(npyHeader.size()) + '\0' + npyHeader +
                                    std::string(16, '\0'));
  put(out / "arrays" / "cifar.bin", std::string(1, '\x03') + std::string(3072, '\x80'));
  return 0;
}
