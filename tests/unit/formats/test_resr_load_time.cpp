// Load time of x4plus as .resr (fp32, fp16, int8) against the ncnn .param/.bin reader, in one run, with file
// sizes. A measurement, not a check: it runs only with RESR_LOAD_BENCH=1 and the real models present.
//   RESR_LOAD_BENCH=1 build/bin/test_formats --gtest_filter='ResrLoadTime.*'
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "formats/ncnn_reader.h"
#include "formats/resr_file.h"
#include "resr_test_files.h"

namespace resr::formats {
namespace {
namespace fs = std::filesystem;

// Best of `runs` wall times in ms (the files are in the page cache after the first).
double best_ms(int runs, const std::function<void()>& f) {
  double best = 1e300;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

TEST(ResrLoadTime, X4plusResrVersusNcnn) {
  const char* on = std::getenv("RESR_LOAD_BENCH");
  if (on == nullptr || std::string(on) != "1") GTEST_SKIP() << "set RESR_LOAD_BENCH=1 to measure";
  const std::string param = test::model_dir() + "/realesrgan-x4plus.param";
  const std::string bin = test::model_dir() + "/realesrgan-x4plus.bin";
  if (!fs::exists(param)) GTEST_SKIP() << param << " not found";
  const int runs = 5;
  const double ncnn_ms = best_ms(runs, [&] { ASSERT_TRUE(read_ncnn_model(param, bin).ok()); });
  std::printf("ncnn .param/.bin  %10llu bytes  %8.1f ms\n",
              static_cast<unsigned long long>(fs::file_size(param) + fs::file_size(bin)), ncnn_ms);

  auto fp32 = read_ncnn_model(param, bin);
  ASSERT_TRUE(fp32.ok());
  const fs::path dir = fs::path(::testing::TempDir()) / ("resr_load_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const char* precision : {"fp32", "fp16", "int8"}) {
    ir::Graph g = *fp32;
    if (std::string(precision) == "fp16") test::make_fp16(g);
    if (std::string(precision) == "int8") test::make_int8(g, false);
    const std::string path = (dir / (std::string("x4plus_") + precision + ".resr")).string();
    ASSERT_TRUE(write_resr_file(test::serialize(g), path).ok());
    const double ms = best_ms(runs, [&] { ASSERT_TRUE(read_resr_file(path).ok()); });
    std::printf(".resr %-4s        %10llu bytes  %8.1f ms  (%.2fx the ncnn load time)\n", precision,
                static_cast<unsigned long long>(fs::file_size(path)), ms, ms / ncnn_ms);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace resr::formats
