// Small POSIX file helpers shared by the sealed files, the key file and the backups: a descriptor
// closed on destruction, and reads and writes that retry after EINTR and short transfers.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string_view>

namespace labgate::security {

/// A file descriptor closed on destruction (-1: none).
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  /// Closes now; false when close() reports an error (data may not have reached the disk).
  bool closeChecked();

 private:
  int fd_;
};

/// Reads up to `n` bytes, fewer only at end of file; -1 on error.
ssize_t readFull(int fd, char* buffer, size_t n);
/// Writes all of `data`; false on error.
bool writeFull(int fd, std::string_view data);

}  // namespace labgate::security
