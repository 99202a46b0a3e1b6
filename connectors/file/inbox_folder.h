// The file-system side of the watched folder, done through directory descriptors so that no name
// in the inbox or in the folders the connector writes into is ever followed as a symbolic link:
//
//   - the inbox is opened once per scan; processed/, rejected/ and quarantine/ are opened from
//     their parent with O_DIRECTORY | O_NOFOLLOW (a link in their place is a fault, not a path);
//   - a file is opened with O_NOFOLLOW, checked on its descriptor (a regular file with one name),
//     and read once, into a private unnamed copy that is hashed as it is written: the hash, the
//     format detection and the parse all see the same bytes, whatever happens to the name;
//   - moves are renameat2(RENAME_NOREPLACE) between directory descriptors, and a .reason file is
//     created with O_CREAT | O_EXCL | O_NOFOLLOW before the move, so nothing is ever created,
//     truncated or replaced through a link, and a name that is taken is never overwritten;
//   - destination names are shortened to fit NAME_MAX with ".reason" appended.
//
// Every failure is a Status whose reason says what happened in an operator's words; nothing here
// throws. File names never appear in a Status (a name can carry a patient's); folder labels do.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <streambuf>
#include <string>
#include <vector>

#include "engine/model/status.h"
#include "engine/security/posix_file.h"

namespace labgate::file {

using FdPtr = std::unique_ptr<security::Fd>;

/// The longest file name the folders take, in bytes (Linux NAME_MAX).
inline constexpr size_t kMaxNameBytes = 255;

/// Opens the inbox folder at `path` (the administrator's path: it may be reached through a
/// symbolic link). Status::io when it cannot be opened as a folder.
StatusOr<FdPtr> openInbox(const std::string& path);

/// Opens a folder the connector writes into, creating it (mode 0750) when it is missing. `path`
/// is resolved against `baseFd` (the inbox for the default "processed", or AT_FDCWD for a
/// configured path); its parents may be links, its last component must be a real folder. On the
/// same file system as `inboxFd` (files are renamed, never copied). `label` names the folder in
/// the Status ("processed/", "rejected_dir /srv/x").
StatusOr<FdPtr> openOutputFolder(int baseFd, const std::string& path, const std::string& label,
                                 int inboxFd);

/// One name in a folder, with what lstat says about it (a link is described, not followed).
struct FolderEntry {
  std::string name;
  struct stat info {};
};

/// Every name in the folder `dirFd` except "." and "..".
Status listFolder(int dirFd, std::vector<FolderEntry>& out);

/// The candidate destination name number `n` for `name`: n = 0 is the name itself, n > 0 is
/// STEM-n.EXT. Shortened (at a UTF-8 character boundary) so that the name plus ".reason" fits in
/// kMaxNameBytes.
std::string candidateName(const std::string& name, int n);

/// Moves `name` from the folder `fromDir` into `toDir` under the first candidateName() that is
/// free, never replacing anything there. With `reason` not null, NAME.reason is created first
/// (O_EXCL, never through a link; a taken .reason name moves on to the next candidate) and
/// `*reason` written into it after the move. `movedAs` receives the final name. `toLabel` names
/// the destination folder in a Status.
Status moveOut(int fromDir, const std::string& name, int toDir, const std::string& toLabel,
               const std::string* reason, std::string* movedAs);

/// A file read once: a private copy (unnamed, under the spool folder), its SHA-256 and first
/// bytes, all from the same read.
struct Snapshot {
  FdPtr copy;          // positioned at 0, read-only use
  std::string sha256;  // lower-case hex
  std::string head;    // the first 64 KiB
  int64_t size = 0;
};

/// Copies at most `limit` + 1 bytes of `fd` (from its current offset) into an unnamed file under
/// `spoolDir` (O_TMPFILE, or a name removed at once where the file system has no O_TMPFILE).
StatusOr<Snapshot> snapshotFile(int fd, const std::string& spoolDir, int64_t limit);

/// A read-only stream buffer over a descriptor it does not own, with seeking (the pipeline reads
/// an export file and, for encryption at rest, reads it again from the start).
class FdReadBuffer : public std::streambuf {
 public:
  explicit FdReadBuffer(int fd);

 protected:
  int_type underflow() override;
  pos_type seekoff(off_type off, std::ios_base::seekdir dir,
                   std::ios_base::openmode which) override;
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override;

 private:
  int fd_;
  std::vector<char> buffer_;
};

/// Identifies one file across a restart of the engine without its name: device, inode, size and
/// modification time.
struct FileId {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = 0;
  int64_t mtimeNs = 0;
  static FileId of(const struct stat& info);
  bool sameFile(const struct stat& info) const;
  bool operator==(const FileId&) const = default;
};

/// The import attempts of files, in a small text file (one "device inode size mtime attempts"
/// line per file being worked on) rewritten atomically before and after each attempt. An attempt
/// recorded and never finished is one the engine did not survive. An empty path keeps nothing.
class AttemptLog {
 public:
  explicit AttemptLog(std::string path);
  /// Attempts recorded for `id` (0 when none).
  int attempts(const FileId& id) const;
  /// Records `count` attempts for `id` (0 forgets it).
  Status record(const FileId& id, int count);

 private:
  struct Entry {
    FileId id;
    int count = 0;
  };
  std::vector<Entry> load() const;
  Status save(const std::vector<Entry>& entries) const;
  std::string path_;
};

}  // namespace labgate::file
