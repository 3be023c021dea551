#include "core/staged_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

namespace resr {
namespace {

constexpr std::size_t kMaxNameBytes = 255;  // NAME_MAX of Linux's file systems

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

// N from "<prefix>N" (digits only), else -1.
int number_after(const std::string& s, const std::string& prefix) {
  if (s.size() <= prefix.size() || s.size() > prefix.size() + 9 || s.compare(0, prefix.size(), prefix) != 0) return -1;
  int n = 0;
  for (std::size_t i = prefix.size(); i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    n = n * 10 + (s[i] - '0');
  }
  return n;
}

// A file about to be replaced by `temp` keeps its permission bits: a private file (0600) became 0644, readable by
// all. Root keeps its owner too. Best effort: what cannot be kept stays the temporary's. (Not setuid and the like.)
void keep_mode_and_owner(const std::string& replaced, const std::string& temp) {
  struct stat old {};
  if (::stat(replaced.c_str(), &old) != 0 || !S_ISREG(old.st_mode)) return;
  if (::geteuid() == 0) {
    const int kept = ::chown(temp.c_str(), old.st_uid, old.st_gid);
    static_cast<void>(kept);
  }
  ::chmod(temp.c_str(), old.st_mode & 0777);
}

// An existing destination that is not a regular file or folder: a device or a pipe, which renaming would replace.
bool is_node(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

// A folder of our own (mode 0700, a name no one could have guessed) in the system's temporary folder, for the
// temporary of a device or pipe, whose folder (/dev) is not ours to write in: a predictable name in /tmp could be
// a link another user planted. Empty when it cannot be made (write() then says so).
std::string private_folder() {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string pattern = (base / "resr-XXXXXX").string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  return ::mkdtemp(name.data()) != nullptr ? std::string(name.data()) : std::string();
}

// Where a destination's temporary goes: beside it, or for a device or pipe in a private folder, keeping the name's
// extension for libraries that look at it (FFmpeg's muxers).
std::string temporary_for(const std::string& destination, const std::string& folder) {
  if (!folder.empty()) return folder + "/" + std::filesystem::path(destination).filename().string();
  const std::string suffix = ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(next_temp_number++);
  // A name near the system's limit (255 bytes) has no room for the suffix ("File name too long" for a legal output
  // name): then a short hidden one in the same folder.
  const std::filesystem::path d(destination);
  if (d.filename().string().size() + suffix.size() > kMaxNameBytes)
    return (d.parent_path() / (".resr" + suffix)).string();
  return destination + suffix;
}

std::atomic<bool> give_up_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

// Writes all of `bytes` to fd; the errno of a failure, else 0. SIGPIPE (a reader that went away) is held back for
// this thread and taken, so that the write fails with EPIPE instead of killing the process. An interrupted write (a
// pipe's: none or part of it written) or wait is tried again, unless give_up_interrupted_writes.
int write_all(int fd, const std::uint8_t* bytes, std::size_t size) {
  sigset_t pipe_signal, before;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &before);
  int err = 0;
  const int flags = ::fcntl(fd, F_GETFL);
  const bool blocking = flags >= 0 && (flags & O_NONBLOCK) == 0;
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, bytes + done, size - done);
    if (n < 0 && errno == EINTR) {
      if (give_up_interrupted.load()) {
        err = EINTR;
        break;
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {  // a non-blocking pipe (a Node.js parent's stdout)
      pollfd ready{fd, POLLOUT, 0};
      if (::poll(&ready, 1, -1) < 0 && errno == EINTR && give_up_interrupted.load()) {
        err = EINTR;
        break;
      }
      continue;
    }
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<std::size_t>(n);
    // A blocking pipe's write cut short by a signal returns what it wrote; the next one would wait again. (A
    // non-blocking one's are short whenever it is nearly full.)
    if (done < size && blocking && give_up_interrupted.load()) {
      err = EINTR;
      break;
    }
  }
  if (err == EPIPE && !sigismember(&before, SIGPIPE)) {
    const timespec now{0, 0};
    sigtimedwait(&pipe_signal, nullptr, &now);  // the pending SIGPIPE, taken before it is unblocked
  }
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  return err;
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
bool slot_in_folder[kSlots];  // the temporary's folder is its own (a device's or pipe's): removed with it

int register_temporary(const std::string& name, bool in_own_folder) {
  if (name.size() >= kSlotBytes) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int free = 0;
    if (!slot_state[i].compare_exchange_strong(free, 1)) continue;
    std::memcpy(slot_name[i], name.c_str(), name.size() + 1);
    slot_in_folder[i] = in_own_folder;
    slot_state[i].store(2);
    return i;
  }
  return -1;  // more at once than slots: that one is not removed by a second Ctrl-C
}

void release_temporary(int slot) {
  if (slot >= 0) slot_state[slot].store(0);
}

}  // namespace

int descriptor_named(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p = fs::path(path).lexically_normal();
  std::error_code ec;
  for (int hops = 0; hops <= 40; ++hops) {
    const std::string s = p.string();
    if (s == "/dev/stdout") return 1;
    if (s == "/dev/stderr") return 2;
    for (const char* prefix : {"/dev/fd/", "/proc/self/fd/"})
      if (const int n = number_after(s, prefix); n >= 0) return n;
    if (!fs::is_symlink(p, ec)) return -1;
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) return -1;
    p = (target.is_absolute() ? target : p.parent_path() / target).lexically_normal();
  }
  return -1;
}

void give_up_interrupted_writes(bool on) noexcept {
  give_up_interrupted.store(on);
}

void remove_staged_temporaries() noexcept {
  for (int i = 0; i < kSlots; ++i) {
    if (slot_state[i].load() != 2) continue;
    ::unlink(slot_name[i]);
    if (!slot_in_folder[i]) continue;
    char folder[kSlotBytes];  // the name up to its last '/', on this stack: the slot may be read again
    std::memcpy(folder, slot_name[i], kSlotBytes);
    char* slash = std::strrchr(folder, '/');
    if (slash != nullptr) {
      *slash = '\0';
      ::rmdir(folder);
    }
  }
}

// A device or pipe is told by the path as given: the system follows its links (/dev/stdout -> /proc/self/fd/1 ->
// "pipe:[N]", a name no folder holds) where through_links cannot, and opening the path reaches the node.
StagedFile::StagedFile(std::string path)
    : path_(std::move(path)),
      descriptor_(descriptor_named(path_)),
      to_node_(descriptor_ >= 0 || is_node(path_)),
      destination_(to_node_ ? path_ : through_links(path_)),
      folder_(to_node_ ? private_folder() : std::string()),
      temp_(temporary_for(destination_, folder_)),
      slot_(register_temporary(temp_, !folder_.empty())) {}

StagedFile::~StagedFile() {
  if (!committed_) remove_temporary();
  release_temporary(slot_);  // after: a second Ctrl-C in between removes it, or finds it gone
}

void StagedFile::remove_temporary() {
  std::remove(temp_.c_str());
  if (!folder_.empty()) ::rmdir(folder_.c_str());
}

Status StagedFile::write(std::span<const std::uint8_t> bytes, bool durable) {
  if (to_node_ && folder_.empty())
    return Status::error("cannot create a private folder for the temporary in the system's temporary folder");
  // Still a link after the hops the system allows: links in a loop, which renaming over would have replaced.
  if (std::error_code ec; !to_node_ && std::filesystem::is_symlink(destination_, ec))
    return Status::error("cannot create: " + errno_text(ELOOP));
  // A file the user may not write is not replaced either, though its folder allows the rename (as cp refuses it;
  // a folder run replaced it where a single image was refused).
  if (!to_node_ && ::access(destination_.c_str(), F_OK) == 0 && ::access(destination_.c_str(), W_OK) != 0)
    return Status::error("cannot write: the file is not writable");
  // Made anew, never through what is there: a link planted under the temporary's name is removed (or, in a folder
  // whose links are not ours to remove, makes this fail) rather than followed.
  ::unlink(temp_.c_str());
  const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) return Status::error("cannot create: " + errno_text(errno));
  int err = write_all(fd, bytes.data(), bytes.size());  // the first failure's errno
  if (err == 0 && durable && ::fsync(fd) != 0) err = errno;
  // close() can report a deferred write error (NFS, quota), so it counts as part of writing.
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    remove_temporary();
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
  // A descriptor is written at its offset (a shell's >> appends), not reopened from the start.
  const int out =
      descriptor_ >= 0 ? ::fcntl(descriptor_, F_DUPFD_CLOEXEC, 0) : ::open(destination_.c_str(), O_WRONLY | O_CLOEXEC);
  if (out < 0) {
    const int err = errno;
    ::close(in);
    return Status::error("cannot open: " + errno_text(err));
  }
  int err = 0;
  std::vector<std::uint8_t> buffer(std::size_t{1} << 16);
  for (;;) {
    const ssize_t got = ::read(in, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      err = got < 0 ? errno : 0;
      break;
    }
    err = write_all(out, buffer.data(), std::size_t(got));
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
    remove_temporary();
    if (!copied.ok()) return copied;
    committed_ = true;
    release_temporary(slot_);
    slot_ = -1;
    return {};
  }
  keep_mode_and_owner(destination_, temp_);
  if (std::rename(temp_.c_str(), destination_.c_str()) != 0) {
    const int err = errno;
    remove_temporary();
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
