// The watched folder's file-system operations (see inbox_folder.h).
#include "connectors/file/inbox_folder.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace labgate::file {
namespace {

std::string errorText(int err) { return std::strerror(err); }

FdPtr adopt(int fd) { return std::make_unique<security::Fd>(fd); }

/// Creates every folder on `path` (relative to `baseFd`) that is missing, like mkdir -p.
void makeParents(int baseFd, const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    if (!prefix.empty()) ::mkdirat(baseFd, prefix.c_str(), 0750);
    if (slash == std::string::npos) return;
  }
}

/// Why the name `leaf` in `parentFd` cannot be opened as a folder, in an operator's words.
std::string describeNotAFolder(int parentFd, const std::string& leaf, const std::string& label,
                               int openError, int mkdirError) {
  struct stat info {};
  if (::fstatat(parentFd, leaf.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(info.st_mode)) {
      return label +
             " is a symbolic link: LabGate does not write through links; replace it with a "
             "real folder";
    }
    if (!S_ISDIR(info.st_mode)) {
      return label +
             " is not a folder; remove or rename what is there so that LabGate can "
             "create the folder";
    }
    return "cannot open " + label + ": " + errorText(openError);
  }
  if (errno == ENOENT && mkdirError != 0) {
    return label + " does not exist and cannot be created: " + errorText(mkdirError);
  }
  return "cannot open " + label + ": " + errorText(openError);
}

}  // namespace

StatusOr<FdPtr> openInbox(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::io("inbox", "the inbox " + path + " does not exist");
    if (err == ENOTDIR) return Status::io("inbox", "the inbox " + path + " is not a folder");
    return Status::io("inbox", "cannot open the inbox " + path + ": " + errorText(err));
  }
  return adopt(fd);
}

StatusOr<FdPtr> openOutputFolder(int baseFd, const std::string& path, const std::string& label,
                                 int inboxFd) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const size_t slash = trimmed.rfind('/');
  const std::string parent =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : trimmed.substr(0, slash));
  const std::string leaf = slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
  if (leaf.empty() || leaf == "." || leaf == "..") {
    return Status::io(label, label + " does not name a folder");
  }
  int parentFd = ::openat(baseFd, parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parentFd < 0 && errno == ENOENT) {
    makeParents(baseFd, parent);
    parentFd = ::openat(baseFd, parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  if (parentFd < 0) {
    return Status::io(label,
                      "cannot open the folder that holds " + label + ": " + errorText(errno));
  }
  security::Fd parentOwner(parentFd);
  int mkdirError = 0;
  if (::mkdirat(parentFd, leaf.c_str(), 0750) != 0 && errno != EEXIST) mkdirError = errno;
  const int fd = ::openat(parentFd, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int openError = errno;
    return Status::io(label, describeNotAFolder(parentFd, leaf, label, openError, mkdirError));
  }
  FdPtr folder = adopt(fd);
  struct stat mine {
  }, inbox{};
  if (::fstat(fd, &mine) != 0 || ::fstat(inboxFd, &inbox) != 0) {
    return Status::io(label, "cannot inspect " + label + ": " + errorText(errno));
  }
  if (mine.st_dev == inbox.st_dev && mine.st_ino == inbox.st_ino) {
    return Status::io(label, label + " is the inbox itself; name a folder of its own");
  }
  if (mine.st_dev != inbox.st_dev) {
    return Status::io(label, label +
                                 " is on another file system than the inbox: files are moved "
                                 "there by renaming; choose a folder on the inbox's file system");
  }
  if (::faccessat(parentFd, leaf.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
    return Status::io(label, "LabGate may not write into " + label + ": " + errorText(errno) +
                                 "; give the service user write access");
  }
  return folder;
}

Status listFolder(int dirFd, std::vector<FolderEntry>& out) {
  // A descriptor of its own: readdir's position must not be shared with dirFd.
  const int fd = ::openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::io("inbox", "cannot list the inbox: " + errorText(errno));
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    const int err = errno;
    ::close(fd);
    return Status::io("inbox", "cannot list the inbox: " + errorText(err));
  }
  Status status;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (!entry) {
      if (errno != 0) status = Status::io("inbox", "cannot list the inbox: " + errorText(errno));
      break;
    }
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    FolderEntry item;
    item.name = name;
    if (::fstatat(dirFd, name.c_str(), &item.info, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
    out.push_back(std::move(item));
  }
  ::closedir(dir);
  return status;
}

std::string candidateName(const std::string& name, int n) {
  static constexpr size_t kBudget = kMaxNameBytes - std::char_traits<char>::length(".reason");
  static constexpr size_t kMaxExtension = 16;
  const std::string suffix = n > 0 ? "-" + std::to_string(n) : std::string();
  const size_t dot = name.rfind('.');
  const bool hasExtension =
      dot != std::string::npos && dot > 0 && name.size() - dot <= kMaxExtension;
  std::string stem = hasExtension ? name.substr(0, dot) : name;
  const std::string extension = hasExtension ? name.substr(dot) : std::string();
  if (stem.size() + suffix.size() + extension.size() > kBudget) {
    size_t cut = kBudget - suffix.size() - extension.size();
    // Whole UTF-8 characters only: back off over continuation bytes.
    while (cut > 0 && (static_cast<unsigned char>(stem[cut]) & 0xC0) == 0x80) --cut;
    stem.resize(cut);
  }
  return stem + suffix + extension;
}

Status moveOut(int fromDir, const std::string& name, int toDir, const std::string& toLabel,
               const std::string* reason, std::string* movedAs) {
  static constexpr int kMaxCandidates = 10000;
  for (int n = 0; n < kMaxCandidates; ++n) {
    const std::string target = candidateName(name, n);
    const std::string reasonName = target + ".reason";
    int reasonFd = -1;
    if (reason) {
      // O_EXCL also refuses an existing link, wherever it points: a planted NAME.reason link
      // only moves the file on to the next name.
      reasonFd = ::openat(toDir, reasonName.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (reasonFd < 0) {
        if (errno == EEXIST) continue;
        return Status::io(toLabel,
                          "cannot create a .reason file in " + toLabel + ": " + errorText(errno));
      }
    }
    security::Fd reasonFile(reasonFd);
    int moved = ::renameat2(fromDir, name.c_str(), toDir, target.c_str(), RENAME_NOREPLACE);
    if (moved != 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
      // A file system without RENAME_NOREPLACE: check, then rename (the .reason name above is
      // held, so only the file's own name can race).
      struct stat existing {};
      if (::fstatat(toDir, target.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
        errno = EEXIST;
      } else {
        moved = ::renameat(fromDir, name.c_str(), toDir, target.c_str());
      }
    }
    if (moved != 0) {
      const int err = errno;
      if (reason) ::unlinkat(toDir, reasonName.c_str(), 0);
      if (err == EEXIST || err == ENOTEMPTY) continue;
      if (err == ENOENT) {
        return Status::notFound("inbox", "the file left the inbox before it could be moved");
      }
      return Status::io(toLabel, "cannot move a file into " + toLabel + ": " + errorText(err));
    }
    if (movedAs) *movedAs = target;
    if (reason && (!security::writeFull(reasonFd, *reason) || !reasonFile.closeChecked())) {
      return Status::io(toLabel,
                        "the file was moved into " + toLabel +
                            " but its .reason file could not be written: " + errorText(errno));
    }
    return Status::ok();
  }
  return Status::io(toLabel, "no free name in " + toLabel + " after " +
                                 std::to_string(kMaxCandidates) + " tries; clear the folder");
}

StatusOr<Snapshot> snapshotFile(int fd, const std::string& spoolDir, int64_t limit) {
  int copyFd = ::open(spoolDir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (copyFd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    // No O_TMPFILE here: a private name, removed at once.
    static std::atomic<uint64_t> counter{0};
    const int dirFd = ::open(spoolDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirFd >= 0) {
      security::Fd dir(dirFd);
      for (int tries = 0; tries < 100 && copyFd < 0; ++tries) {
        const std::string name =
            ".copy-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
        copyFd =
            ::openat(dirFd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (copyFd >= 0)
          ::unlinkat(dirFd, name.c_str(), 0);
        else if (errno != EEXIST)
          break;
      }
    }
  }
  if (copyFd < 0) {
    return Status::io(spoolDir, "cannot create a private copy of the file in " + spoolDir + ": " +
                                    errorText(errno));
  }
  Snapshot out;
  out.copy = adopt(copyFd);
  Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
  static constexpr size_t kChunk = size_t{1} << 20;
  static constexpr size_t kHead = 65536;
  std::vector<char> buffer(kChunk);
  while (out.size <= limit) {
    const ssize_t n = security::readFull(fd, buffer.data(), buffer.size());
    if (n < 0) return Status::io("inbox", "the file could not be read: " + errorText(errno));
    if (n == 0) break;
    const auto got = static_cast<size_t>(n);
    sha.update(buffer.data(), got);
    if (out.head.size() < kHead) {
      out.head.append(buffer.data(), std::min(got, kHead - out.head.size()));
    }
    if (!security::writeFull(copyFd, std::string_view(buffer.data(), got))) {
      return Status::io(spoolDir, "cannot write the private copy of the file in " + spoolDir +
                                      ": " + errorText(errno));
    }
    out.size += static_cast<int64_t>(got);
  }
  if (::lseek(copyFd, 0, SEEK_SET) != 0) {
    return Status::io(spoolDir, "cannot read back the private copy: " + errorText(errno));
  }
  out.sha256 = Poco::DigestEngine::digestToHex(sha.digest());
  return out;
}

FdReadBuffer::FdReadBuffer(int fd) : fd_(fd), buffer_(65536) {
  setg(buffer_.data(), buffer_.data(), buffer_.data());
}

FdReadBuffer::int_type FdReadBuffer::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  ssize_t n;
  do {
    n = ::read(fd_, buffer_.data(), buffer_.size());
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return traits_type::eof();
  setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
  return traits_type::to_int_type(*gptr());
}

FdReadBuffer::pos_type FdReadBuffer::seekoff(off_type off, std::ios_base::seekdir dir,
                                             std::ios_base::openmode which) {
  if (!(which & std::ios_base::in)) return pos_type(off_type(-1));
  int whence = SEEK_SET;
  if (dir == std::ios_base::cur) {
    whence = SEEK_CUR;
    off -= egptr() - gptr();  // what was read ahead into the buffer but not taken
  } else if (dir == std::ios_base::end) {
    whence = SEEK_END;
  }
  const off_t at = ::lseek(fd_, static_cast<off_t>(off), whence);
  setg(buffer_.data(), buffer_.data(), buffer_.data());
  if (at < 0) return pos_type(off_type(-1));
  return pos_type(static_cast<off_type>(at));
}

FdReadBuffer::pos_type FdReadBuffer::seekpos(pos_type pos, std::ios_base::openmode which) {
  return seekoff(off_type(pos), std::ios_base::beg, which);
}

FileId FileId::of(const struct stat& info) {
  FileId id;
  id.device = static_cast<uint64_t>(info.st_dev);
  id.inode = static_cast<uint64_t>(info.st_ino);
  id.size = static_cast<int64_t>(info.st_size);
  id.mtimeNs = static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
  return id;
}

bool FileId::sameFile(const struct stat& info) const {
  return device == static_cast<uint64_t>(info.st_dev) &&
         inode == static_cast<uint64_t>(info.st_ino);
}

AttemptLog::AttemptLog(std::string path) : path_(std::move(path)) {}

int AttemptLog::attempts(const FileId& id) const {
  for (const Entry& e : load()) {
    if (e.id == id) return e.count;
  }
  return 0;
}

Status AttemptLog::record(const FileId& id, int count) {
  if (path_.empty()) return Status::ok();
  std::vector<Entry> entries = load();
  entries.erase(
      std::remove_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.id == id; }),
      entries.end());
  if (count > 0) entries.push_back({id, count});
  static constexpr size_t kMaxEntries = 64;
  if (entries.size() > kMaxEntries) {
    entries.erase(entries.begin(),
                  entries.begin() + static_cast<std::ptrdiff_t>(entries.size() - kMaxEntries));
  }
  return save(entries);
}

std::vector<AttemptLog::Entry> AttemptLog::load() const {
  std::vector<Entry> out;
  if (path_.empty()) return out;
  const int fd = ::open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return out;
  security::Fd file(fd);
  std::string text(65536, '\0');
  const ssize_t n = security::readFull(fd, text.data(), text.size());
  if (n <= 0) return out;
  text.resize(static_cast<size_t>(n));
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    Entry e;
    if (fields >> e.id.device >> e.id.inode >> e.id.size >> e.id.mtimeNs >> e.count &&
        e.count > 0) {
      out.push_back(e);
    }
  }
  return out;
}

Status AttemptLog::save(const std::vector<Entry>& entries) const {
  if (entries.empty()) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      return Status::io(path_, "cannot remove: " + errorText(errno));
    }
    return Status::ok();
  }
  std::string text;
  for (const Entry& e : entries) {
    text += std::to_string(e.id.device) + " " + std::to_string(e.id.inode) + " " +
            std::to_string(e.id.size) + " " + std::to_string(e.id.mtimeNs) + " " +
            std::to_string(e.count) + "\n";
  }
  const std::string temporary = path_ + ".tmp";
  ::unlink(temporary.c_str());
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io(temporary, "cannot create: " + errorText(errno));
  security::Fd file(fd);
  if (!security::writeFull(fd, text) || !file.closeChecked()) {
    return Status::io(temporary, "cannot write: " + errorText(errno));
  }
  if (::rename(temporary.c_str(), path_.c_str()) != 0) {
    return Status::io(path_, "cannot replace: " + errorText(errno));
  }
  return Status::ok();
}

}  // namespace labgate::file
