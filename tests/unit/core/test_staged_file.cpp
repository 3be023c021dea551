// Files that appear whole or not at all (core/staged_file.h): the destination holds the old bytes until commit,
// the new ones after it, and no temporary is left behind by success, by a failed write or by giving up.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "core/staged_file.h"
#include "support/temp_dir.h"

namespace resr {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

// A named pipe at `pipe` and its read end (-1 on failure), opened first so that opening it for writing does not wait.
int pipe_with_reader(const fs::path& pipe) {
  if (::mkfifo(pipe.c_str(), 0600) != 0) return -1;
  return ::open(pipe.c_str(), O_RDONLY | O_NONBLOCK);
}

TEST(StagedFile, ReplacesTheDestinationOnlyOnCommit) {
  const test::ScopedTempDir tmp("resr_staged_");
  fs::create_directories(tmp.path());
  const std::string path = (tmp.path() / "out.png").string();
  std::ofstream(path) << "old";
  StagedFile file(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.temp_path().rfind(path + ".tmp-", 0), 0u) << file.temp_path();
  ASSERT_TRUE(file.write(std::string_view("new bytes")).ok());
  EXPECT_EQ(read_all(path), "old");  // written, not yet committed
  EXPECT_EQ(read_all(file.temp_path()), "new bytes");
  ASSERT_TRUE(file.commit().ok());
  EXPECT_EQ(read_all(path), "new bytes");
  EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{"out.png"});
}

// A file replaced keeps its permission bits (a private 0600 file became 0644, readable by all).
TEST(StagedFile, AReplacedFileKeepsItsMode) {
  const test::ScopedTempDir tmp("resr_staged_");
  fs::create_directories(tmp.path());
  const fs::path path = tmp.path() / "private.png";
  std::ofstream(path) << "old";
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_TRUE(write_file_atomically(path.string(), std::string_view("new")).ok());
  EXPECT_EQ(read_all(path), "new");
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
}

// A path naming an open descriptor (/dev/stdout, /dev/fd/N) is written into that descriptor at its offset: a shell's
// `>> log` keeps what the log held. Following the link to the file and renaming over it lost it.
TEST(StagedFile, ADescriptorIsWrittenAtItsOffset) {
  EXPECT_EQ(descriptor_named("/dev/stdout"), 1);
  EXPECT_EQ(descriptor_named("/dev/stderr"), 2);
  EXPECT_EQ(descriptor_named("/dev/fd/7"), 7);
  EXPECT_EQ(descriptor_named("/proc/self/fd/12"), 12);
  EXPECT_EQ(descriptor_named("/dev/fd/x"), -1);
  EXPECT_EQ(descriptor_named("/tmp/fd/3"), -1);
  const test::ScopedTempDir tmp("resr_staged_");
  fs::create_directories(tmp.path());
  const fs::path log = tmp.path() / "log.txt", link = tmp.path() / "out.json";
  std::ofstream(log) << "before\n";
  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::string named = "/dev/fd/" + std::to_string(fd);
  fs::create_symlink(named, link);  // through a link of one's own too
  EXPECT_EQ(descriptor_named(link.string()), fd);
  ASSERT_TRUE(write_file_atomically(named, std::string_view("one\n")).ok());
  ASSERT_TRUE(write_file_atomically(link.string(), std::string_view("two\n")).ok());
  ::close(fd);
  EXPECT_EQ(read_all(log), "before\none\ntwo\n");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(names_in(tmp.path()).size(), 2u);  // no temporary left beside them
}

// A descriptor left non-blocking by the parent (Node.js gives its children such pipes) is waited on when full, not
// failed with "Resource temporarily unavailable" after the pipe's 64 KiB.
TEST(StagedFile, ANonBlockingPipeIsWaitedOn) {
  int ends[2];
  ASSERT_EQ(::pipe(ends), 0);
  ASSERT_EQ(::fcntl(ends[1], F_SETFL, ::fcntl(ends[1], F_GETFL) | O_NONBLOCK), 0);
  const std::string bytes(1 << 20, 'x');
  std::string got;
  std::thread reader([&] {
    char buffer[4096];
    for (ssize_t n; (n = ::read(ends[0], buffer, sizeof buffer)) > 0;) {
      got.append(buffer, std::size_t(n));
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  const Status written = write_file_atomically("/dev/fd/" + std::to_string(ends[1]), std::string_view(bytes));
  ::close(ends[1]);
  reader.join();
  ::close(ends[0]);
  EXPECT_TRUE(written.ok()) << written.message();
  EXPECT_EQ(got.size(), bytes.size());
}

// After give_up_interrupted_writes (the CLI's first Ctrl-C), a write blocked on a pipe no one reads fails when a
// signal interrupts it; it was tried again, and waited for ever. Without it, it is tried again.
TEST(StagedFile, AnInterruptedWriteGivesUpWhenAsked) {
  struct sigaction on = {}, before = {};
  on.sa_handler = [](int) {};
  sigemptyset(&on.sa_mask);
  on.sa_flags = 0;  // no SA_RESTART: the write returns
  ASSERT_EQ(::sigaction(SIGUSR1, &on, &before), 0);
  for (bool give_up : {false, true}) {
    int ends[2];
    ASSERT_EQ(::pipe(ends), 0);
    give_up_interrupted_writes(give_up);
    const std::string bytes(1 << 20, 'x');  // more than the pipe holds
    std::atomic<bool> done{false};
    Status written;
    std::thread writer([&] {
      written = write_file_atomically("/dev/fd/" + std::to_string(ends[1]), std::string_view(bytes));
      done = true;
    });
    for (int i = 0; i < 20 && !done; ++i) {  // interrupted a few times while blocked
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ::pthread_kill(writer.native_handle(), SIGUSR1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(done.load(), give_up);
    if (!give_up) {  // still waiting: read it all, and it finishes whole
      std::thread([&] {
        char buffer[65536];
        std::size_t got = 0;
        while (got < bytes.size()) got += std::size_t(std::max<ssize_t>(0, ::read(ends[0], buffer, sizeof buffer)));
      }).join();
    }
    writer.join();
    give_up_interrupted_writes(false);
    ::close(ends[0]);
    ::close(ends[1]);
    EXPECT_EQ(written.ok(), !give_up) << written.message();
    if (give_up) EXPECT_NE(written.message().find("Interrupted system call"), std::string::npos) << written.message();
  }
  ::sigaction(SIGUSR1, &before, nullptr);
}

// A destination that is a symbolic link is written through it: the file it names gets the bytes (made if the link
// dangles) and the link stays. It was replaced by a plain file, and the file it named kept its old bytes.
TEST(StagedFile, ALinkIsWrittenThrough) {
  const test::ScopedTempDir tmp("resr_staged_");
  fs::create_directories(tmp.path() / "real");
  const fs::path target = tmp.path() / "real" / "out.png", link = tmp.path() / "link.png";
  std::ofstream(target) << "old";
  fs::create_symlink(fs::path("real") / "out.png", link);
  ASSERT_TRUE(write_file_atomically(link.string(), std::string_view("new")).ok());
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(read_all(target), "new");
  EXPECT_EQ(names_in(tmp.path() / "real"), std::vector<std::string>{"out.png"});
  // Links in a loop are refused as the system refuses them, and stay (the first was replaced by a plain file).
  fs::create_symlink("loop2.png", tmp.path() / "loop1.png");
  fs::create_symlink("loop1.png", tmp.path() / "loop2.png");
  const Status looped = write_file_atomically((tmp.path() / "loop1.png").string(), std::string_view("x"));
  EXPECT_EQ(looped.message(), "cannot create: Too many levels of symbolic links");
  EXPECT_TRUE(fs::is_symlink(tmp.path() / "loop1.png"));
  const fs::path dangling = tmp.path() / "dangling.png";
  fs::create_symlink(tmp.path() / "real" / "made.png", dangling);
  ASSERT_TRUE(write_file_atomically(dangling.string(), std::string_view("made")).ok());
  EXPECT_TRUE(fs::is_symlink(dangling));
  EXPECT_EQ(read_all(tmp.path() / "real" / "made.png"), "made");
}

// A named pipe (like a device: /dev/null) is written through once the bytes are staged, and stays a pipe: renaming
// over it replaced it with a plain file (for /dev/null too, as root).
TEST(StagedFile, APipeIsWrittenThroughNotReplaced) {
  const test::ScopedTempDir tmp("resr_staged_");
  fs::create_directories(tmp.path());
  const fs::path pipe = tmp.path() / "out.png";
  const int reader = pipe_with_reader(pipe);  // the bytes below fit the pipe's buffer
  ASSERT_GE(reader, 0);
  StagedFile file(pipe.string());
  EXPECT_EQ(file.temp_path().find(tmp.path().string()), std::string::npos) << file.temp_path();
  ASSERT_TRUE(file.write(std::string_view("through the pipe")).ok());
  const Status committed = file.commit();
  char received[64] = {};
  const ssize_t got = ::read(reader, received, sizeof received - 1);
  ::close(reader);
  ASSERT_TRUE(committed.ok()) << committed.message();
  EXPECT_EQ(std::string(received, std::size_t(std::max<ssize_t>(got, 0))), "through the pipe");
  EXPECT_TRUE(fs::is_fifo(pipe));
  EXPECT_FALSE(fs::exists(file.temp_path()));
  EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{"out.png"});
}

// The staged bytes of a pipe wait in a folder of their own (mode 0700, an unguessable name): a predictable name in
// /tmp could be a link another user planted, and the bytes were readable by all. A reader that goes away fails the
// commit with EPIPE (SIGPIPE ended the process, leaving the temporary) and leaves nothing behind.
TEST(StagedFile, APipesTemporaryIsPrivateAndAGoneReaderFailsTheCommit) {
  const test::ScopedTempDir tmp("resr_staged_");
  fs::create_directories(tmp.path());
  const fs::path pipe = tmp.path() / "out.png";
  const int reader = pipe_with_reader(pipe);
  ASSERT_GE(reader, 0);
  ASSERT_EQ(::fcntl(reader, F_SETFL, 0), 0);  // blocking reads from here on
  StagedFile file(pipe.string());
  ASSERT_TRUE(file.write(std::vector<std::uint8_t>(std::size_t{4} << 20, 7)).ok());  // more than a pipe holds
  const fs::path folder = fs::path(file.temp_path()).parent_path();
  EXPECT_EQ(fs::status(folder).permissions() & fs::perms::all, fs::perms::owner_all);
  Status committed;
  std::thread writer([&] { committed = file.commit(); });
  // Until the writer opens its end a read finds no writer (0 bytes): wait for the first bytes of the copy.
  char some[16];
  ssize_t got = 0;
  for (int tries = 0; tries < 500 && got <= 0; ++tries) {
    got = ::read(reader, some, sizeof some);
    if (got <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(got, 0);
  ::close(reader);
  writer.join();
  EXPECT_EQ(committed.message(), "cannot write: Broken pipe");
  EXPECT_FALSE(fs::exists(file.temp_path()));
  EXPECT_FALSE(fs::exists(folder));
  EXPECT_TRUE(fs::is_fifo(pipe));
}

// An output name near the system's limit (255 bytes) is written: its temporary's suffix made it "File name too long".
TEST(StagedFile, ANameNearTheLimitIsWritten) {
  const test::ScopedTempDir tmp("resr_staged_");
  fs::create_directories(tmp.path());
  const fs::path path = tmp.path() / (std::string(251, 'n') + ".png");
  ASSERT_TRUE(write_file_atomically(path.string(), std::string_view("long")).ok());
  EXPECT_EQ(read_all(path), "long");
  EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{path.filename().string()});
}

TEST(StagedFile, AnUncommittedFileLeavesNothing) {
  const test::ScopedTempDir tmp("resr_staged_");
  fs::create_directories(tmp.path());
  const std::string path = (tmp.path() / "model.resr").string();
  {
    StagedFile file(path);
    const std::vector<std::uint8_t> bytes(100000, 7);
    ASSERT_TRUE(file.write(bytes, /*durable=*/true).ok());
    EXPECT_EQ(fs::file_size(file.temp_path()), bytes.size());
  }
  EXPECT_TRUE(names_in(tmp.path()).empty());
}

TEST(StagedFile, TwoFilesStagedForOneDestinationDoNotShareATemporary) {
  const test::ScopedTempDir tmp("resr_staged_");
  fs::create_directories(tmp.path());
  const std::string path = (tmp.path() / "report.json").string();
  StagedFile a(path), b(path);
  EXPECT_NE(a.temp_path(), b.temp_path());
  ASSERT_TRUE(a.write(std::string_view("a")).ok());
  ASSERT_TRUE(b.write(std::string_view("b")).ok());
  ASSERT_TRUE(b.commit().ok());
  ASSERT_TRUE(a.commit().ok());
  EXPECT_EQ(read_all(path), "a");
  EXPECT_EQ(names_in(tmp.path()).size(), 1u);
}

TEST(StagedFile, FailuresNameTheStepAndLeaveNothing) {
  const test::ScopedTempDir tmp("resr_staged_");
  fs::create_directories(tmp.path());
  // No folder to create the temporary in.
  const Status missing = write_file_atomically((tmp.path() / "no" / "x.png").string(), std::string_view("x"));
  EXPECT_EQ(missing.message(), "cannot create: No such file or directory");
  // A destination that cannot be replaced: a non-empty folder of that name.
  const fs::path dir = tmp.path() / "taken";
  fs::create_directories(dir / "inside");
  const Status taken = write_file_atomically(dir.string(), std::string_view("x"));
  EXPECT_EQ(taken.message().rfind("cannot move into place: ", 0), 0u) << taken.message();
  EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{"taken"});
}

TEST(StagedFile, AWriteThatFailsPartWayRemovesItsTemporary) {
  const test::ScopedTempDir tmp("resr_staged_");
  fs::create_directories(tmp.path());
  // A file size limit makes write() fail with EFBIG after the first 4 KiB (SIGXFSZ ignored), even for root.
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*old_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string path = (tmp.path() / "big.tif").string();
  const Status st = write_file_atomically(path, std::vector<std::uint8_t>(100000, 1));
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(st.message(), "cannot write: File too large");
  EXPECT_TRUE(names_in(tmp.path()).empty());
}

}  // namespace
}  // namespace resr
