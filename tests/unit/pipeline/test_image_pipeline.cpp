// The image pipeline (pipeline/image_pipeline.h) with a stand-in processor (each sample + 1, same size): every
// file is written or fails alone, results keep the jobs' order, a single file runs on the calling thread without
// disturbing its OpenMP setting, process threads are never more than files, and a cancel stops what has not begun.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "image/codec.h"
#include "pipeline/image_pipeline.h"
#include "support/scoped_env.h"
#include "support/temp_dir.h"

namespace resr::pipeline {
namespace {

namespace fs = std::filesystem;

Image gray(int w, int h, std::uint8_t v) {
  Image im;
  im.width = w;
  im.height = h;
  im.channels = 1;
  im.bytes.assign(std::size_t(w) * h, v);
  return im;
}

// Counts the processors made and records the threads that ran them.
struct StandIn {
  std::atomic<int> made{0};
  std::mutex mutex;
  std::set<std::thread::id> threads;
  std::set<int> teams;  // omp_get_max_threads() inside the processor

  std::function<Result<Processor>()> factory() {
    return [this]() -> Result<Processor> {
      ++made;
      return Processor([this](const Image& in, engine::StageTimes* times, const std::function<void(int, int)>&) {
        {
          std::lock_guard lock(mutex);
          threads.insert(std::this_thread::get_id());
          teams.insert(omp_get_max_threads());
        }
        Image out = in;
        for (std::uint8_t& b : out.bytes) ++b;
        times->tiles = 1;
        return Result<Image>(std::move(out));
      });
    };
  }
};

class ImagePipeline : public ::testing::Test {
 protected:
  ImagePipeline() { fs::create_directories(tmp_.path()); }
  std::string file(const std::string& name) const { return (tmp_.path() / name).string(); }
  void write(const std::string& name, const Image& im) const {
    ASSERT_TRUE(write_image_file(im, file(name), ImageFormat::kPng, {}).ok());
  }
  test::ScopedTempDir tmp_{"resr_pipeline_"};
};

TEST_F(ImagePipeline, OneFileRunsOnTheCallingThreadAndKeepsItsOpenMpSetting) {
  write("a.png", gray(5, 4, 10));
  StandIn standin;
  PipelineConfig config;
  config.proc_threads = 3;  // more than files: one processor is made
  const test::ScopedEnv all_cores("OMP_NUM_THREADS", nullptr);
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const std::vector<JobResult> r = run_pipeline({{file("a.png"), file("a_out.png")}}, config, standin.factory());
  EXPECT_EQ(omp_get_max_threads(), 1);
  omp_set_num_threads(before);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].status.ok()) << r[0].status.message();
  EXPECT_EQ(standin.made.load(), 1);
  EXPECT_EQ(standin.threads, std::set<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(standin.teams, std::set<int>{omp_get_num_procs()});  // every core, as a lone process thread gets
  Result<Image> out = read_image_file(file("a_out.png"));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->bytes, gray(5, 4, 11).bytes);
  EXPECT_EQ(r[0].in_w, 5);
  EXPECT_EQ(r[0].out_h, 4);
  EXPECT_EQ(r[0].tiles, 1);
}

// OMP_NUM_THREADS, when set, is the cores the process threads share (omp_set_num_threads would override it).
TEST(PipelineThreads, OmpNumThreadsSetsTheCoresTheProcessThreadsShare) {
  PipelineConfig config;
  config.proc_threads = 2;
  {
    const test::ScopedEnv unset("OMP_NUM_THREADS", nullptr);
    EXPECT_EQ(pipeline_threads(config, 4).compute, std::max(1, omp_get_num_procs() / 2));
  }
  {
    const test::ScopedEnv six("OMP_NUM_THREADS", "6,2");  // a list: its first number
    EXPECT_EQ(pipeline_threads(config, 4).compute, 3);
    EXPECT_EQ(pipeline_threads(config, 1).compute, 6);  // one file: one process thread
  }
  {
    const test::ScopedEnv one("OMP_NUM_THREADS", "1");
    EXPECT_EQ(pipeline_threads(config, 4).compute, 1);  // never less than one
  }
  {
    const test::ScopedEnv junk("OMP_NUM_THREADS", "many");
    EXPECT_EQ(pipeline_threads(config, 4).compute, std::max(1, omp_get_num_procs() / 2));
  }
}

TEST_F(ImagePipeline, ManyFilesGoOnPastFailuresAndKeepTheirOrder) {
  std::vector<Job> jobs;
  for (int i = 0; i < 7; ++i) {
    const std::string name = "in" + std::to_string(i) + ".png";
    if (i == 2) {
      std::ofstream(file(name)) << "not a png";
    } else {
      write(name, gray(3 + i, 2, std::uint8_t(i)));
    }
    jobs.push_back({file(name), file("out" + std::to_string(i) + (i == 4 ? ".bmp" : ".png"))});
  }
  StandIn standin;
  PipelineConfig config;
  config.load_threads = 2;
  config.proc_threads = 2;
  config.save_threads = 2;
  int reported = 0;
  Progress progress;
  progress.on_file = [&](const JobResult&, int done, int total) {
    EXPECT_EQ(done, ++reported);  // serialised, counted once per file
    EXPECT_EQ(total, 7);
  };
  const std::vector<JobResult> r = run_pipeline(jobs, config, standin.factory(), progress);
  EXPECT_EQ(reported, 7);
  EXPECT_EQ(standin.made.load(), 2);
  EXPECT_EQ(standin.threads.count(std::this_thread::get_id()), 0u);
  ASSERT_EQ(r.size(), jobs.size());
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(r[i].job.input, jobs[i].input);
    if (i == 2) {
      EXPECT_EQ(r[i].status.message().rfind(jobs[i].input + ": ", 0), 0u) << r[i].status.message();
    } else if (i == 4) {  // an output extension no encoder has: refused before decoding
      EXPECT_EQ(r[i].status.message().rfind(jobs[i].output + ": unsupported output extension", 0), 0u)
          << r[i].status.message();
      EXPECT_EQ(r[i].in_w, 0);
    } else {
      ASSERT_TRUE(r[i].status.ok()) << r[i].status.message();
      Result<Image> out = read_image_file(jobs[i].output);
      ASSERT_TRUE(out.ok());
      EXPECT_EQ(out->bytes, gray(3 + i, 2, std::uint8_t(i + 1)).bytes) << i;
    }
  }
}

TEST_F(ImagePipeline, ACancelStopsEveryFileNotBegun) {
  for (const char* name : {"a.png", "b.png", "c.png"}) write(name, gray(2, 2, 0));
  const std::atomic<bool> cancel{true};
  PipelineConfig config;
  config.cancel = &cancel;
  for (const std::vector<Job>& jobs :
       {std::vector<Job>{{file("a.png"), file("a_out.png")}}, std::vector<Job>{{file("a.png"), file("a_out.png")},
                                                                               {file("b.png"), file("b_out.png")},
                                                                               {file("c.png"), file("c_out.png")}}}) {
    StandIn standin;
    for (const JobResult& r : run_pipeline(jobs, config, standin.factory())) {
      EXPECT_TRUE(r.status.is_stopped()) << r.status.message();
      EXPECT_EQ(r.status.message(), r.job.input + ": interrupted");
      EXPECT_FALSE(fs::exists(r.job.output));
    }
    EXPECT_TRUE(standin.threads.empty());
  }
}

TEST_F(ImagePipeline, AProcessorThatCannotBeMadeFailsEveryFile) {
  write("a.png", gray(2, 2, 0));
  const std::vector<JobResult> r =
      run_pipeline({{file("a.png"), file("a_out.png")}, {file("a.png"), file("b_out.png")}}, PipelineConfig{},
                   []() -> Result<Processor> { return Status::error("no model"); });
  ASSERT_EQ(r.size(), 2u);
  for (const JobResult& j : r) EXPECT_EQ(j.status.message(), "no model");
  EXPECT_FALSE(fs::exists(file("a_out.png")));
}

// Out of memory outside a tile's retry (the input's copy, a final resize) throws from the processor: that file
// fails, as does one whose processor has a bug, and the others are written, on one thread or many.
TEST_F(ImagePipeline, AStageThatThrowsFailsItsFileAlone) {
  for (const char* name : {"a.png", "b.png", "c.png"}) write(name, gray(3, 2, 7));
  // The first image processed runs out of memory, the second meets a bug, the third is upscaled.
  const auto factory_for = [](const std::shared_ptr<std::atomic<int>>& calls) {
    return [calls]() -> Result<Processor> {
      return Processor([calls](const Image& in, engine::StageTimes*, const std::function<void(int, int)>&) {
        const int call = (*calls)++;
        if (call == 0) throw std::bad_alloc();
        if (call == 1) throw std::runtime_error("a bug");
        return Result<Image>(in);
      });
    };
  };
  const std::vector<Job> jobs = {
      {file("a.png"), file("a_out.png")}, {file("b.png"), file("b_out.png")}, {file("c.png"), file("c_out.png")}};
  for (const int threads : {1, 2}) {
    PipelineConfig config;
    config.proc_threads = threads;
    const std::vector<JobResult> r = run_pipeline(jobs, config, factory_for(std::make_shared<std::atomic<int>>()));
    ASSERT_EQ(r.size(), 3u);
    std::multiset<std::string> outcomes;
    for (const JobResult& j : r) {
      outcomes.insert(j.status.ok() ? "ok" : j.status.message().substr(j.job.input.size()));
      EXPECT_EQ(fs::exists(j.job.output), j.status.ok()) << j.job.output;
      EXPECT_EQ(j.status.is_out_of_memory(), j.status.message().find("out of memory") != std::string::npos);
      fs::remove(j.job.output);
    }
    EXPECT_EQ(outcomes, (std::multiset<std::string>{"ok", ": internal error: a bug", ": out of memory"})) << threads;
  }
  // One file on the calling thread: its failure is returned, not thrown.
  const std::vector<JobResult> one =
      run_pipeline({jobs[0]}, PipelineConfig{}, factory_for(std::make_shared<std::atomic<int>>()));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_TRUE(one[0].status.is_out_of_memory()) << one[0].status.message();
  EXPECT_FALSE(fs::exists(jobs[0].output));
}

}  // namespace
}  // namespace resr::pipeline
