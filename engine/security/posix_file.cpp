// POSIX file helpers (see posix_file.h).
#include "engine/security/posix_file.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

namespace labgate::security {

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

bool Fd::closeChecked() {
  const int fd = fd_;
  fd_ = -1;
  return fd < 0 || ::close(fd) == 0;
}

ssize_t readFull(int fd, char* buffer, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, buffer + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

bool writeFull(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(w);
  }
  return true;
}

std::string createPrivateDirectories(const std::string& path) {
  if (path.empty()) return "";
  std::filesystem::path sofar;
  for (const auto& part : std::filesystem::path(path)) {
    sofar /= part;
    if (part.empty() || part == "/" || part == "." || part == "..") continue;
    if (::mkdir(sofar.c_str(), 0700) == 0 || errno == EEXIST) continue;
    return "cannot create the directory " + sofar.string() + ": " + std::strerror(errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return path + " is not a directory";
  }
  return "";
}

PrivateFile ensurePrivateFile(const std::string& path) {
  PrivateFile out;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
    out.error = "cannot create or open " + path + ": " + std::strerror(errno);
    return out;
  }
  if (!S_ISREG(st.st_mode)) {
    out.error = path + " is not a regular file";
    return out;
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    const std::string was = octalMode(st.st_mode);
    if (::fchmod(fd.get(), st.st_mode & S_IRWXU) == 0) {
      out.notice = path + " had mode " + was + "; set to " + octalMode(st.st_mode & S_IRWXU) +
                   " (group and others have no business reading it)";
    } else {
      out.notice = path + " has mode " + was + " and it could not be changed (" +
                   std::strerror(errno) + "): run chmod go= " + path;
    }
  }
  return out;
}

std::string octalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string groupOrOtherAccess(const struct stat& st, const std::string& path) {
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) == 0) return "";
  return path + " is accessible by group or others (mode " + octalMode(st.st_mode) +
         "; it must be 0600 or 0400: chmod 600 " + path + ")";
}

std::string describeUid(uid_t uid) {
  std::string out = std::to_string(uid);
  std::vector<char> buffer(4096);
  struct passwd entry {};
  struct passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr) {
    out += std::string(" (") + found->pw_name + ")";
  }
  return out;
}

std::string ownerProblem(const struct stat& st, const std::string& path) {
  const uid_t self = ::geteuid();
  if (st.st_uid == self || st.st_uid == 0) return "";
  const std::string user = describeUid(self);
  const size_t paren = user.find(" (");
  const std::string chownTo =
      paren == std::string::npos ? user : user.substr(paren + 2, user.size() - paren - 3);
  return path + " is owned by uid " + describeUid(st.st_uid) +
         "; it must be owned by root or by the user labgated runs as, uid " + user +
         ", because its owner can read or replace it: chown " + chownTo + " " + path;
}

}  // namespace labgate::security
