// Small POSIX file helpers shared by the sealed files, the key file, the TLS key and the backups: a
// descriptor closed on destruction, reads and writes that retry after EINTR and short transfers,
// and the checks every secret file passes (its mode, its owner).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <string>
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

/// Creates `path` and every missing parent with mode 0700 (what exists already is left as it
/// is). "" on success, else what failed, naming the directory.
std::string createPrivateDirectories(const std::string& path);

/// What ensurePrivateFile did.
struct PrivateFile {
  std::string error;   // "" unless the file could not be created or opened: what failed
  std::string notice;  // "" unless group/other bits were found: what was done about them
};
/// Creates the regular file `path` with mode 0600 when it does not exist (so that a library that
/// opens it later, SQLite or a log channel, finds it private), and takes the group/other bits
/// off an existing one (`notice` says so, or that it could not: a file of another owner).
PrivateFile ensurePrivateFile(const std::string& path);

/// A file holding a secret (a key file, a TLS private key) must give group and others nothing.
/// "" when `st` (of the file `path`) has no group/other bit, else the problem in words, starting
/// with `path` and ending with what to do, e.g. "/etc/k is accessible by group or others (mode
/// 0644; it must be 0600 or 0400: chmod 600 /etc/k)".
std::string groupOrOtherAccess(const struct stat& st, const std::string& path);

/// A file holding a secret must be owned by the user this process runs as or by root (uid 0):
/// another owner can read or replace it. "" when it is, else the problem in words, naming the
/// owner found and what to do.
std::string ownerProblem(const struct stat& st, const std::string& path);

/// "65534 (nobody)": a uid with its user name when the system knows one.
std::string describeUid(uid_t uid);

/// A mode as four octal digits, "0644".
std::string octalMode(mode_t mode);

}  // namespace labgate::security
