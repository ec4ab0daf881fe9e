//===- NpyNumpyTest.cpp - .npy files checked against NumPy itself ---------===//
//
// Both directions: files the runtime writes are loaded by np.load (and must be
// byte-identical to np.save's), and files np.save writes are read by the
// runtime. Values travel separately as raw little-endian bytes (.bin) so each
// side compares against data it did not parse itself. Skipped when
// /usr/bin/python3 has no numpy.
//
//===----------------------------------------------------------------------===//

#include "runtime/Npy.h"

#include "TestSupport.h"

#include <cstring>

using namespace pce::rt;
using namespace pce::rt::test;

namespace {

std::string shapeArg(const std::vector<int64_t> &shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s.empty() ? "scalar" : s;
}

// Checks a .npy written by the runtime with NumPy: dtype, shape, values
// (against the raw .bin) and byte-identity with np.save.
const char *kCheckScript = R"PY(
import io, sys, numpy as np
npy, raw, descr, shape = sys.argv[1:5]
shape = () if shape == 'scalar' else tuple(int(d) for d in shape.split(','))
a = np.load(npy, allow_pickle=False)
assert a.dtype == np.dtype(descr), (a.dtype, descr)
assert a.shape == shape, (a.shape, shape)
b = np.fromfile(raw, dtype=descr).reshape(shape)
assert np.array_equal(a, b), 'values differ'
buf = io.BytesIO(); np.save(buf, b)
assert buf.getvalue() == open(npy, 'rb').read(), 'not byte-identical to np.save'
)PY";

TEST(NpyNumpy, NumpyLoadsRuntimeFiles) {
  if (!haveNumpy())
    GTEST_SKIP() << "/usr/bin/python3 cannot import numpy";
  TempDir dir;
  writeBytes(dir.file("check.py"), kCheckScript);
  for (DType dtype : {DType::F32, DType::F64, DType::I64, DType::I32, DType::U8})
    for (const std::vector<int64_t> &shape : {std::vector<int64_t>{}, {5}, {2, 3, 4}, {0, 2}}) {
      HostTensor t = randomTensor(dtype, shape);
      ASSERT_TRUE(writeNpy(dir.file("a.npy"), t));
      writeBytes(dir.file("a.bin"), std::string(reinterpret_cast<const char *>(t.data.data()), t.nbytes()));
      std::string out;
      int rc = runCommand("/usr/bin/python3 " + shellQuote(dir.file("check.py")) + " " +
                              shellQuote(dir.file("a.npy")) + " " + shellQuote(dir.file("a.bin")) + " " +
                              shellQuote(dtypeNpyDescr(dtype)) + " " + shapeArg(shape),
                          &out);
      EXPECT_EQ(rc, 0) << t.typeString() << ":\n" << out;
    }
}

// Writes fresh random arrays with np.save (versions 1.0 and 2.0) plus raw
// copies, and one Fortran-ordered array.
const char *kWriteScript = R"PY(
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng()
cases = [('f4', ()), ('f4', (5,)), ('f4', (2, 3, 4)), ('f8', ()), ('f8', (5,)), ('f8', (2, 3, 4)),
         ('i8', (7,)), ('i4', (3, 2)), ('u1', (4, 4))]
for i, (dt, shape) in enumerate(cases):
    if dt[0] == 'f':
        a = rng.standard_normal(shape).astype(dt)
    else:
        a = rng.integers(1, 100, size=shape).astype(dt)
    np.save(f'{d}/case{i}.npy', a)
    a.tofile(f'{d}/case{i}.bin')
    with open(f'{d}/case{i}.txt', 'w') as f:
        f.write(dt + ' ' + ','.join(str(s) for s in shape))
with open(f'{d}/v2.npy', 'wb') as f:
    np.lib.format.write_array(f, rng.standard_normal((3, 2)), version=(2, 0))
np.save(f'{d}/fortran.npy', np.asfortranarray(rng.standard_normal((3, 2))))
print(len(cases))
)PY";

TEST(NpyNumpy, RuntimeReadsNumpyFiles) {
  if (!haveNumpy())
    GTEST_SKIP() << "/usr/bin/python3 cannot import numpy";
  TempDir dir;
  writeBytes(dir.file("write.py"), kWriteScript);
  std::string out;
  ASSERT_EQ(runCommand("/usr/bin/python3 " + shellQuote(dir.file("write.py")) + " " + shellQuote(dir.path()), &out), 0)
      << out;
  int cases = std::stoi(out);
  ASSERT_EQ(cases, 9);
  for (int i = 0; i < cases; ++i) {
    std::string base = dir.file("case" + std::to_string(i));
    auto t = readNpy(base + ".npy");
    ASSERT_TRUE(t) << t.error();
    std::string desc = readBytes(base + ".txt");
    std::string raw = readBytes(base + ".bin");
    ASSERT_EQ(t->nbytes(), raw.size()) << desc;
    EXPECT_EQ(std::memcmp(t->data.data(), raw.data(), raw.size()), 0) << desc;
    std::string shape;
    for (size_t k = 0; k < t->shape.size(); ++k)
      shape += (k ? "," : "") + std::to_string(t->shape[k]);
    EXPECT_EQ(desc, std::string(dtypeNpyDescr(t->dtype)).substr(1) + " " + shape);
  }
  auto v2 = readNpy(dir.file("v2.npy"));
  ASSERT_TRUE(v2) << v2.error();
  EXPECT_EQ(v2->typeString(), "f64[3,2]");
  auto fortran = readNpy(dir.file("fortran.npy"));
  ASSERT_FALSE(fortran);
  EXPECT_CONTAINS(fortran.error(), dir.file("fortran.npy") + ": byte ");
  EXPECT_CONTAINS(fortran.error(), "expected fortran_order False");
}

} // namespace
