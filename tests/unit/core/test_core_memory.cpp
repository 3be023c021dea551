// Fresh memory for kernels and weights (core/aligned_buffer.h, core/populate_pages.h): buffers small (C heap)
// and large (their own populated mapping) are zero, aligned, wholly writable, and moved without copies or
// double frees; populating pages keeps what they hold and makes them resident in one call.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/populate_pages.h"

namespace resr {
namespace {

bool all_zero(const AlignedBuffer& b) {
  for (std::size_t i = 0; i < b.size(); ++i)
    if (b.data()[i] != 0.0f) return false;
  return true;
}

TEST(AlignedBuffer, SmallAndLargeBuffersAreZeroAlignedAndWritable) {
  const std::size_t large = AlignedBuffer::kMappedBytes / sizeof(float);
  for (const std::size_t n : {std::size_t{1}, std::size_t{1000}, large - 1, large, large * 9 + 3}) {
    AlignedBuffer b(n);
    ASSERT_NE(b.data(), nullptr) << n;
    EXPECT_EQ(b.size(), n);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % AlignedBuffer::kAlignment, 0u) << n;
    EXPECT_TRUE(all_zero(b)) << n;
    for (std::size_t i = 0; i < n; ++i) b.data()[i] = float(i);
    EXPECT_EQ(b.data()[n - 1], float(n - 1));
  }
  const AlignedBuffer empty(0);
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0u);
}

TEST(AlignedBuffer, MovesHandOverTheMemory) {
  for (const std::size_t n : {std::size_t{64}, AlignedBuffer::kMappedBytes}) {
    AlignedBuffer a(n);
    a.data()[0] = 7.0f;
    float* const p = a.data();
    AlignedBuffer b(std::move(a));
    EXPECT_EQ(b.data(), p);
    EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is the contract
    EXPECT_EQ(a.size(), 0u);
    AlignedBuffer c(n * 2);
    c = std::move(b);  // c's own memory is released
    EXPECT_EQ(c.data(), p);
    EXPECT_EQ(c.size(), n);
    EXPECT_EQ(c.data()[0], 7.0f);
    c = AlignedBuffer();
    EXPECT_EQ(c.data(), nullptr);
  }
}

// Pages of a fresh anonymous mapping are resident after populate_pages, without a write.
TEST(PopulatePages, MakesFreshPagesResidentInOneCall) {
  const std::size_t page = std::size_t(sysconf(_SC_PAGESIZE)), bytes = 64 * page;
  void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  if (madvise(m, page, kMadvPopulateWrite) != 0 && errno == EINVAL) {
    munmap(m, bytes);
    GTEST_SKIP() << "this kernel has no MADV_POPULATE_WRITE (Linux < 5.14): pages fault in as written";
  }
  std::vector<unsigned char> resident(bytes / page);
  // Populate an unaligned range inside pages 8..40: whole pages 8..40 become resident, 41.. stay as they were.
  auto* base = static_cast<unsigned char*>(m);
  populate_pages(base + 8 * page + 100, 32 * page);
  ASSERT_EQ(mincore(m, bytes, resident.data()), 0);
  for (std::size_t i = 8; i <= 40; ++i) EXPECT_TRUE(resident[i] & 1u) << "page " << i;
  for (std::size_t i = 42; i < resident.size(); ++i) EXPECT_FALSE(resident[i] & 1u) << "page " << i;
  munmap(m, bytes);
}

TEST(PopulatePages, KeepsWhatThePagesHoldAndIgnoresSmallOrNullRanges) {
  std::vector<float> v(1 << 16);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.5f;
  populate_pages(v.data() + 3, (v.size() - 3) * sizeof(float));
  populate_pages(v.data(), 100);
  populate_pages(nullptr, 1 << 20);
  for (std::size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], float(i) * 0.5f) << i;
}

}  // namespace
}  // namespace resr
