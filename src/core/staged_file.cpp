#include "core/staged_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace resr {
namespace {

// Distinct temporaries for files staged at once by one process (threads writing beside each other, or the same
// destination written again before an earlier temporary is gone).
std::atomic<unsigned> next_temp_number{0};

// `path` with its symbolic links followed to the file they name, which need not exist (a dangling link's target).
std::string through_links(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path);
  std::error_code ec;
  for (int hops = 0; hops < 40 && fs::is_symlink(p, ec); ++hops) {  // 40: the system's own limit (ELOOP)
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) break;
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  return p.string();
}

// An existing destination that is not a regular file or folder: a device or a pipe, which renaming would replace.
bool is_node(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

// Where a destination's temporary goes: beside it, or for a device or pipe (whose folder, /dev, is not ours to
// write in) in the system's temporary folder, keeping the name's extension for libraries that look at it.
std::string temporary_for(const std::string& destination, bool to_node) {
  const std::string stem = ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(next_temp_number++);
  if (!to_node) return destination + stem;
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  return (dir / ("resr" + stem + "-" + std::filesystem::path(destination).filename().string())).string();
}

std::string errno_text(int err) {
  return std::strerror(err != 0 ? err : EIO);
}

// The live temporaries' names, for remove_staged_temporaries(): copies in static slots (a signal handler must not
// read a string another thread may be freeing). A slot is claimed (0 -> 1), filled, then published (-> 2).
constexpr int kSlots = 128;
constexpr std::size_t kSlotBytes = 4096;
std::atomic<int> slot_state[kSlots];
static_assert(std::atomic<int>::is_always_lock_free, "read from a signal handler");
char slot_name[kSlots][kSlotBytes];

int register_temporary(const std::string& name) {
  if (name.size() >= kSlotBytes) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int free = 0;
    if (!slot_state[i].compare_exchange_strong(free, 1)) continue;
    std::memcpy(slot_name[i], name.c_str(), name.size() + 1);
    slot_state[i].store(2);
    return i;
  }
  return -1;  // more at once than slots: that one is not removed by a second Ctrl-C
}

void release_temporary(int slot) {
  if (slot >= 0) slot_state[slot].store(0);
}

}  // namespace

void remove_staged_temporaries() noexcept {
  for (int i = 0; i < kSlots; ++i)
    if (slot_state[i].load() == 2) ::unlink(slot_name[i]);
}

StagedFile::StagedFile(std::string path)
    : path_(std::move(path)),
      destination_(through_links(path_)),
      to_node_(is_node(destination_)),
      temp_(temporary_for(destination_, to_node_)),
      slot_(register_temporary(temp_)) {}

StagedFile::~StagedFile() {
  if (!committed_) std::remove(temp_.c_str());
  release_temporary(slot_);  // after: a second Ctrl-C in between removes it, or finds it gone
}

Status StagedFile::write(std::span<const std::uint8_t> bytes, bool durable) {
  const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return Status::error("cannot create: " + errno_text(errno));
  int err = 0;  // the first failure's errno
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (err == 0 && durable && ::fsync(fd) != 0) err = errno;
  // close() can report a deferred write error (NFS, quota), so it counts as part of writing.
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    std::remove(temp_.c_str());
    return Status::error("cannot write: " + errno_text(err));
  }
  return {};
}

Status StagedFile::write(std::string_view text, bool durable) {
  return write(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), durable);
}

Status StagedFile::copy_into_node() {
  const int in = ::open(temp_.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Status::error("cannot read the staged bytes: " + errno_text(errno));
  const int out = ::open(destination_.c_str(), O_WRONLY | O_CLOEXEC);
  if (out < 0) {
    const int err = errno;
    ::close(in);
    return Status::error("cannot open: " + errno_text(err));
  }
  int err = 0;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(in, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      err = got < 0 ? errno : 0;
      break;
    }
    for (ssize_t done = 0; done < got && err == 0;) {
      const ssize_t n = ::write(out, buffer + done, std::size_t(got - done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) err = n < 0 ? errno : EIO;
      done += n > 0 ? n : 0;
    }
    if (err != 0) break;
  }
  if (::close(out) != 0 && err == 0) err = errno;
  ::close(in);
  if (err != 0) return Status::error("cannot write: " + errno_text(err));
  return {};
}

Status StagedFile::commit() {
  if (to_node_) {
    Status copied = copy_into_node();
    std::remove(temp_.c_str());
    if (!copied.ok()) return copied;
    committed_ = true;
    release_temporary(slot_);
    slot_ = -1;
    return {};
  }
  if (std::rename(temp_.c_str(), destination_.c_str()) != 0) {
    const int err = errno;
    std::remove(temp_.c_str());
    return Status::error("cannot move into place: " + errno_text(err));
  }
  committed_ = true;
  release_temporary(slot_);  // renamed: nothing left to remove
  slot_ = -1;
  return {};
}

Status write_file_atomically(const std::string& path, std::span<const std::uint8_t> bytes, bool durable) {
  StagedFile file(path);
  RESR_RETURN_IF_ERROR(file.write(bytes, durable));
  return file.commit();
}

Status write_file_atomically(const std::string& path, std::string_view text, bool durable) {
  StagedFile file(path);
  RESR_RETURN_IF_ERROR(file.write(text, durable));
  return file.commit();
}

}  // namespace resr
