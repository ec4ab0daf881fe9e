//===- MemoryTest.cpp - the allocation policy for compiled code -----------===//

#include "runtime/Memory.h"

#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <malloc.h>

namespace {

/// Bytes currently allocated with mmap by malloc.
size_t mmappedBytes() { return mallinfo2().hblkhd; }

// After keepFreedMemoryForReuse, an 8 MiB temporary (the size of a compiled
// layer's convolution output) comes from the heap, not from mmap, and once
// freed it stays in the process for the next one.
TEST(Memory, LargeTemporariesComeFromTheHeapAndStay) {
  if (const char *keep = std::getenv("PCE_SYSTEM_MALLOC"); keep && std::strcmp(keep, "0"))
    GTEST_SKIP() << "PCE_SYSTEM_MALLOC is set: glibc's defaults are kept";
  ASSERT_TRUE(pce::rt::keepFreedMemoryForReuse());
  EXPECT_TRUE(pce::rt::keepFreedMemoryForReuse()) << "a second call reports the same";

  const size_t size = 8u << 20;
  size_t before = mmappedBytes();
  auto *block = static_cast<unsigned char *>(std::malloc(size));
  ASSERT_NE(block, nullptr);
  std::memset(block, 0x5a, size); // really used
  EXPECT_LT(mmappedBytes(), before + size) << "the block was mmapped";
  std::free(block);
  size_t freeInHeap = mallinfo2().fordblks;
  EXPECT_GE(freeInHeap, size) << "the freed block went back to the system";
}

} // namespace
