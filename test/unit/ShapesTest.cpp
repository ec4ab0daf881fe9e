//===- ShapesTest.cpp - the shape rules shared by inference and lowering
//---===//

#include "dialect/PCEShapes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace mlir::pce::shapes;
using Shape = llvm::SmallVector<int64_t>;
using Bin = std::pair<int64_t, int64_t>;

TEST(Lin, EndpointsAndMidpoint) {
  EXPECT_DOUBLE_EQ(lin(7, 0), -1.0);
  EXPECT_DOUBLE_EQ(lin(7, 6), 1.0);
  EXPECT_DOUBLE_EQ(lin(7, 3), 0.0);
  EXPECT_DOUBLE_EQ(lin(1, 0), 0.0);       // n == 1 has no extent
  EXPECT_DOUBLE_EQ(lin(4, -1), -5.0 / 3); // halo extrapolates past -1
  EXPECT_DOUBLE_EQ(lin(4, 4), 5.0 / 3);
}

TEST(PoolBin, MatchesAdaptiveMaxPoolBounds) {
  // PyTorch's adaptive pooling: [floor(u*n/l), ceil((u+1)*n/l)).
  EXPECT_EQ(poolBin(7, 4, 0), Bin(0, 2));
  EXPECT_EQ(poolBin(7, 4, 1), Bin(1, 4));
  EXPECT_EQ(poolBin(7, 4, 2), Bin(3, 6));
  EXPECT_EQ(poolBin(7, 4, 3), Bin(5, 7));
  // More bins than rows: every bin still holds one row.
  EXPECT_EQ(poolBin(2, 4, 1), Bin(0, 1));
  EXPECT_EQ(poolBin(2, 4, 2), Bin(1, 2));
}

TEST(PoolBin, CoversEveryRowForRandomSizes) {
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 200; ++trial) {
    int64_t n = 1 + rng() % 30, l = 1 + rng() % 8;
    std::vector<int> covered(n, 0);
    for (int64_t u = 0; u < l; ++u) {
      auto [b, e] = poolBin(n, l, u);
      ASSERT_LT(b, e) << "empty bin " << u << " of " << l << " over " << n;
      ASSERT_GE(b, 0);
      ASSERT_LE(e, n);
      EXPECT_EQ(b, static_cast<int64_t>(std::floor(double(u) * n / l)));
      EXPECT_EQ(e, static_cast<int64_t>(std::ceil(double(u + 1) * n / l)));
      for (int64_t i = b; i < e; ++i)
        covered[i] = 1;
    }
    for (int64_t i = 0; i < n; ++i)
      EXPECT_TRUE(covered[i]) << "row " << i << " of " << n << " with " << l;
  }
}

TEST(Patchify, ShapeAndErrors) {
  auto r = patchify({7, 3, 12, 20}, {4, 5}, 2);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(Shape(r.shape), (Shape{7, 12, 7, 8, 9}));
  EXPECT_EQ(patchify({1, 1, 28, 28}, {5, 7}, 0).error,
            "input height 28 is not divisible by patch height 5");
  EXPECT_EQ(patchify({1, 1, 28}, {7, 7}, 0).error,
            "operand 'input' must have rank 4 ([B, C, H, W]), found rank 3 [1, "
            "1, 28]");
  EXPECT_FALSE(patchify({1, 1, 28, 28}, {7, 7}, -1).ok());
  EXPECT_FALSE(patchify({1, 1, 28, 28}, {7}, 0).ok());
}

TEST(Embed, WidthIsDeTimesSumOfSquares) {
  auto r = embed({2, 16, 5, 9, 9}, {6, 5}, {6}, 1, {1, 2, 4});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(Shape(r.shape), (Shape{2, 16, 6 * 21}));
  CheckedSizes sizes;
  EXPECT_EQ(sppBins({1, 3}, sizes), 10);
  EXPECT_TRUE(sizes.ok()) << sizes.error();
  EXPECT_EQ(embed({2, 16, 5, 9, 9}, {6, 4}, {6}, 1, {1}).error,
            "operand 'weight' has 4 input channels, expected 5 (the patches' "
            "channels C+4)");
  EXPECT_FALSE(embed({2, 16, 5, 4, 4}, {6, 5}, {6}, 2, {1}).ok());
}

TEST(Experts, ValidConvolutionShape) {
  auto r = experts({3, 4, 7, 9, 8}, {2, 6, 7, 5, 5});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(Shape(r.shape), (Shape{3, 4, 2, 6, 5, 4}));
  EXPECT_EQ(experts({3, 4, 7, 9, 8}, {2, 6, 7, 4, 4}).error,
            "kernel size must be odd, found 4");
}

TEST(MixAndUnpatchify, Shapes) {
  EXPECT_EQ(Shape(mix({2, 6, 3}, {2, 6, 3, 4, 5, 7}).shape),
            (Shape{2, 6, 4, 5, 7}));
  EXPECT_EQ(Shape(mix({2, 6, 3}, {2, 6, 3, 4, 5, 7}, 9).shape),
            (Shape{2, 6, 9, 5, 7}));
  EXPECT_EQ(mix({2, 6, 2}, {2, 6, 3, 4, 5, 7}).error,
            "operand 'weights' routes to 2 experts but 'experts' holds 3");
  EXPECT_EQ(Shape(unpatchify({2, 6, 4, 5, 7}, {2, 3}).shape),
            (Shape{2, 4, 10, 21}));
  EXPECT_FALSE(unpatchify({2, 6, 4, 5, 7}, {2, 2}).ok());
}

TEST(Patchify, UnpatchifyInvertsTheGridForRandomShapes) {
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 100; ++trial) {
    int64_t b = 1 + rng() % 8, c = 1 + rng() % 4, ph = 1 + rng() % 6,
            pw = 1 + rng() % 6, nph = 1 + rng() % 5, npw = 1 + rng() % 5;
    auto p = patchify({b, c, nph * ph, npw * pw}, {ph, pw}, 0);
    ASSERT_TRUE(p.ok()) << p.error;
    auto u = unpatchify({b, p.shape[1], c + 4, ph, pw}, {nph, npw});
    ASSERT_TRUE(u.ok()) << u.error;
    EXPECT_EQ(Shape(u.shape), (Shape{b, c + 4, nph * ph, npw * pw}));
  }
}

//===----------------------------------------------------------------------===//
// Checked size arithmetic: the largest legal size passes, one more overflows.
//===----------------------------------------------------------------------===//

constexpr int64_t kMax = kMaxSize;

TEST(CheckedSizes, AddAtTheBoundary) {
  CheckedSizes sizes;
  EXPECT_EQ(sizes.add("channels C+4", kMax - 4, 4), kMax);
  EXPECT_TRUE(sizes.ok()) << sizes.error();
  EXPECT_EQ(sizes.add("channels C+4", kMax - 3, 4), 0);
  EXPECT_EQ(sizes.error(), "channels C+4 overflows: 9223372036854775804 + 4 "
                           "exceeds 9223372036854775807, the largest tensor "
                           "size");
}

TEST(CheckedSizes, MulAtTheBoundaryKeepsTheFirstError) {
  CheckedSizes sizes;
  // 2^62 fits, 2^63 does not.
  EXPECT_EQ(sizes.mul("P", int64_t(1) << 31, int64_t(1) << 31),
            int64_t(1) << 62);
  EXPECT_EQ(sizes.mul("P", kMax, 1), kMax);
  EXPECT_TRUE(sizes.ok()) << sizes.error();
  EXPECT_EQ(sizes.mul("first", int64_t(1) << 32, int64_t(1) << 31), 0);
  EXPECT_EQ(sizes.mul("second", kMax, 2), 0);
  EXPECT_EQ(sizes.error(), "first overflows: 4294967296 * 2147483648 exceeds "
                           "9223372036854775807, the largest tensor size");
}

TEST(CheckedSizes, NegativeResultsAreNotSizes) {
  CheckedSizes sizes;
  sizes.add("x", -5, 2);
  EXPECT_FALSE(sizes.ok());
}

TEST(CheckedSizes, ElementCount) {
  CheckedSizes sizes;
  EXPECT_EQ(sizes.elements("t", {kMax, 1, 0}), 0); // an empty tensor
  EXPECT_EQ(sizes.elements("t", {int64_t(1) << 31, int64_t(1) << 31, 1}),
            int64_t(1) << 62);
  EXPECT_TRUE(sizes.ok()) << sizes.error();
  EXPECT_EQ(sizes.elements("t", {int64_t(1) << 31, int64_t(1) << 31, 2}), 0);
  EXPECT_EQ(sizes.error(), "t [2147483648, 2147483648, 2] would hold more "
                           "than 9223372036854775807 elements, the largest "
                           "tensor size");
}

TEST(Patchify, ChannelsAtTheBoundary) {
  auto fits = patchify({1, kMax - 4, 1, 1}, {1, 1}, 0);
  ASSERT_TRUE(fits.ok()) << fits.error;
  EXPECT_EQ(fits.shape[2], kMax);
  EXPECT_EQ(patchify({1, kMax - 3, 1, 1}, {1, 1}, 0).error,
            "channels C+4 overflows: 9223372036854775804 + 4 exceeds "
            "9223372036854775807, the largest tensor size");
}

TEST(Patchify, NumberOfPatchesAndHaloOverflow) {
  // P = H*W with 1x1 patches: 2^32 * 2^31 = 2^63 is one past the largest
  // size; with C+4 = 4 channels the largest result is [1, P, 4, 1, 1] with
  // 4*P < 2^63.
  auto fits = patchify({1, 0, int64_t(1) << 32, (int64_t(1) << 29) - 1},
                       {1, 1}, 0);
  ASSERT_TRUE(fits.ok()) << fits.error;
  EXPECT_EQ(fits.shape[1], (int64_t(1) << 61) - (int64_t(1) << 32));
  EXPECT_FALSE(
      patchify({1, 0, int64_t(1) << 32, int64_t(1) << 29}, {1, 1}, 0).ok());
  EXPECT_EQ(patchify({1, 1, int64_t(1) << 32, int64_t(1) << 31}, {1, 1}, 0)
                .error,
            "number of patches P = (H/ph)*(W/pw) overflows: 4294967296 * "
            "2147483648 exceeds 9223372036854775807, the largest tensor size");
  // 2r, then ph + 2r.
  EXPECT_EQ(patchify({1, 1, 1, 1}, {1, 1}, kMax / 2 + 1).error,
            "halo 2r overflows: 2 * 4611686018427387904 exceeds "
            "9223372036854775807, the largest tensor size");
  EXPECT_EQ(patchify({1, 1, 2, 2}, {2, 2}, kMax / 2).error,
            "patch height ph+2r overflows: 2 + 9223372036854775806 exceeds "
            "9223372036854775807, the largest tensor size");
}

TEST(Patchify, ResultElementsOverflow) {
  // Each size fits, the element count B*P*(C+4)*... does not.
  auto r = patchify({int64_t(1) << 40, (int64_t(1) << 20) - 4, 1, 1}, {1, 1}, 1);
  EXPECT_EQ(r.error, "the result [1099511627776, 1, 1048576, 3, 3] would hold "
                     "more than 9223372036854775807 elements, the largest "
                     "tensor size");
}

TEST(Embed, WidthOverflow) {
  // D = De * sum(l*l) = De * 21.
  int64_t de = kMax / 21;
  auto fits = embed({1, 1, 5, 3, 3}, {de, 5}, {de}, 1, {1, 2, 4});
  ASSERT_TRUE(fits.ok()) << fits.error;
  EXPECT_EQ(fits.shape[2], de * 21);
  EXPECT_EQ(embed({1, 1, 5, 3, 3}, {de + 1, 5}, {de + 1}, 1, {1, 2, 4}).error,
            "embedding width D = De*sum(l*l) overflows: 439208192231179801 * "
            "21 exceeds 9223372036854775807, the largest tensor size");
  // sum(l*l) itself.
  EXPECT_FALSE(embed({1, 1, 5, 3, 3}, {1, 5}, {1}, 1, {int64_t(1) << 32}).ok());
  // 2r.
  EXPECT_FALSE(embed({1, 1, 5, 3, 3}, {1, 5}, {1}, kMax / 2 + 1, {1}).ok());
}

TEST(Experts, ResultElementsOverflow) {
  // [B, P, E, Co, 1, 1] with E*Co = 2^63.
  EXPECT_TRUE(experts({1, 1, 5, 1, 1}, {int64_t(1) << 31, int64_t(1) << 31, 5, 1, 1}).ok());
  EXPECT_FALSE(experts({1, 1, 5, 1, 1}, {int64_t(1) << 32, int64_t(1) << 31, 5, 1, 1}).ok());
}

TEST(Unpatchify, GridOverflow) {
  EXPECT_EQ(unpatchify({1, 1, 1, 1, 1}, {int64_t(1) << 32, int64_t(1) << 31})
                .error,
            "number of patches nph*npw overflows: 4294967296 * 2147483648 "
            "exceeds 9223372036854775807, the largest tensor size");
  // nph*ph: a grid of 2 rows of patches kMax/2 + 1 high.
  EXPECT_TRUE(unpatchify({1, 2, 1, kMax / 2, 1}, {2, 1}).ok());
  EXPECT_EQ(unpatchify({1, 2, 1, kMax / 2 + 1, 1}, {2, 1}).error,
            "output height nph*ph overflows: 2 * 4611686018427387904 exceeds "
            "9223372036854775807, the largest tensor size");
}
