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
  EXPECT_EQ(sppBins({1, 3}), 10);
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
