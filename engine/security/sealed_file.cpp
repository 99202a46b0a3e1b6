// Keyring's sealed files: a file (an upload, an export, a backup) sealed in 1 MiB chunks so that
// memory stays bounded whatever its size.
//
// Layout: "LGF1" | DEK id (u32 BE) | 16-byte random file id, then chunks, each
//   u32 BE plaintext length (at most 1 MiB) | 12-byte nonce | ciphertext | 16-byte tag
// with AAD = header | caller's aad | chunk index (u64 BE) | final flag (1 byte). Every chunk but
// the last holds exactly 1 MiB; an empty file is one empty final chunk. The index stops reordering
// and dropping, the final flag stops truncation at a chunk boundary, the file id stops splicing
// chunks of another file sealed under the same key.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "engine/security/crypto.h"
#include "engine/security/keyring.h"
#include "engine/security/posix_file.h"

namespace labgate::security {
namespace {

constexpr char kFileMagic[] = "LGF1";
constexpr size_t kMagicSize = 4;
constexpr size_t kFileIdSize = 16;
constexpr size_t kHeaderSize = kMagicSize + 4 + kFileIdSize;
constexpr size_t kChunkSize = size_t{1} << 20;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;

void cleanse(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

void appendU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

uint32_t readU32(const char* p) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string chunkAad(std::string_view header, std::string_view aad, uint64_t index, bool final) {
  std::string out(header);
  out.append(aad);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((index >> shift) & 0xFF));
  }
  out.push_back(final ? '\1' : '\0');
  return out;
}

/// A key copied out of the keyring, cleansed when it goes.
struct KeyCopy {
  uint32_t id = 0;
  std::string bytes;
  ~KeyCopy() { cleanse(bytes); }
};

/// Writes a sealed file: header at creation, then chunks as plaintext arrives. One chunk is held
/// back until more data (or finish()) says whether it is the last. An unfinished file is removed.
class ChunkWriter {
 public:
  ChunkWriter(const KeyCopy& key, std::string_view aad, std::string out)
      : key_(key), aad_(aad), path_(std::move(out)) {
    header_.assign(kFileMagic, kMagicSize);
    appendU32(header_, key.id);
    header_ += randomBytes(kFileIdSize);
  }
  ~ChunkWriter() {
    cleanse(pending_);
    if (fd_ >= 0) ::close(fd_);
    if (created_ && !finished_) ::unlink(path_.c_str());
  }
  ChunkWriter(const ChunkWriter&) = delete;
  ChunkWriter& operator=(const ChunkWriter&) = delete;

  Status open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) return Status::io(path_, std::string("cannot create: ") + std::strerror(errno));
    created_ = true;
    if (!writeFull(fd_, header_)) return Status::io(path_, "write failed");
    return Status::ok();
  }

  Status add(std::string_view data) {
    pending_.append(data);
    while (pending_.size() > kChunkSize) {
      if (!emit(std::string_view(pending_).substr(0, kChunkSize), false)) {
        return Status::io(path_, "write failed");
      }
      OPENSSL_cleanse(pending_.data(), kChunkSize);
      pending_.erase(0, kChunkSize);
    }
    return Status::ok();
  }

  Status finish() {
    if (!emit(pending_, true)) return Status::io(path_, "write failed");
    cleanse(pending_);
    const int fd = fd_;
    fd_ = -1;
    const bool synced = ::fsync(fd) == 0;
    if (::close(fd) != 0 || !synced) return Status::io(path_, "write failed");
    finished_ = true;
    return Status::ok();
  }

 private:
  bool emit(std::string_view plain, bool final) {
    std::string record;
    appendU32(record, static_cast<uint32_t>(plain.size()));
    record += aesGcmSeal(key_.bytes, plain, chunkAad(header_, aad_, index_++, final));
    return writeFull(fd_, record);
  }

  const KeyCopy& key_;
  std::string aad_;
  std::string path_;
  std::string header_;
  std::string pending_;
  uint64_t index_ = 0;
  int fd_ = -1;
  bool created_ = false;
  bool finished_ = false;
};

}  // namespace

Status Keyring::sealFile(const std::string& in, const std::string& out,
                         std::string_view aad) const {
  std::ifstream src(in, std::ios::binary);
  if (!src) return Status::io(in, std::string("cannot open: ") + std::strerror(errno));
  return sealStream(src, out, aad);
}

Status Keyring::sealStream(std::istream& in, const std::string& out, std::string_view aad) const {
  std::optional<std::pair<uint32_t, std::string>> active = copyKey(std::nullopt);
  if (!active) throw std::logic_error("no data key to seal with");
  KeyCopy key{active->first, std::move(active->second)};
  ChunkWriter writer(key, aad, out);
  if (Status s = writer.open(); !s.isOk()) return s;
  std::string buffer(kChunkSize, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize n = in.gcount();
    if (n <= 0) break;
    if (Status s = writer.add(std::string_view(buffer.data(), static_cast<size_t>(n))); !s.isOk()) {
      return s;
    }
  }
  OPENSSL_cleanse(buffer.data(), buffer.size());
  if (in.bad()) return Status::io(out, "reading the content failed");
  return writer.finish();
}

Status Keyring::openFileTo(const std::string& in, std::string_view aad,
                           const std::function<bool(std::string_view)>& sink) const {
  Fd src(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
  if (src.get() < 0) return Status::io(in, std::string("cannot open: ") + std::strerror(errno));
  std::string header(kHeaderSize, '\0');
  if (readFull(src.get(), header.data(), kHeaderSize) != static_cast<ssize_t>(kHeaderSize) ||
      header.compare(0, kMagicSize, kFileMagic) != 0) {
    return Status::invalid(in, "not a sealed file");
  }
  const uint32_t id = readU32(header.data() + kMagicSize);
  std::optional<std::pair<uint32_t, std::string>> found = copyKey(id);
  if (!found) {
    return Status::notFound(
        in, "sealed with data key " + std::to_string(id) + ", which this keyring does not hold");
  }
  KeyCopy key{found->first, std::move(found->second)};
  std::string record;
  for (uint64_t index = 0;; ++index) {
    char lenBytes[4];
    const ssize_t got = readFull(src.get(), lenBytes, 4);
    if (got < 0) return Status::io(in, "read failed");
    if (got != 4) {
      return Status::invalid(in, "truncated: chunk " + std::to_string(index) + " is missing");
    }
    const uint32_t plainLen = readU32(lenBytes);
    if (plainLen > kChunkSize) return Status::invalid(in, "chunk length out of range");
    record.resize(kNonceSize + plainLen + kTagSize);
    if (readFull(src.get(), record.data(), record.size()) != static_cast<ssize_t>(record.size())) {
      return Status::invalid(in, "truncated in chunk " + std::to_string(index));
    }
    // A full chunk may be inner or final, a short one only final; the flag is authenticated.
    bool final = true;
    std::optional<std::string> plain =
        aesGcmOpen(key.bytes, record, chunkAad(header, aad, index, true));
    if (!plain && plainLen == kChunkSize) {
      final = false;
      plain = aesGcmOpen(key.bytes, record, chunkAad(header, aad, index, false));
    }
    if (!plain) return Status::invalid(in, "chunk " + std::to_string(index) + " does not verify");
    const bool more = sink(*plain);
    cleanse(*plain);
    if (!more) return Status::io(in, "the reader stopped");
    if (final) break;
  }
  char extra = 0;
  if (readFull(src.get(), &extra, 1) != 0) {
    return Status::invalid(in, "data after the final chunk");
  }
  return Status::ok();
}

Status Keyring::openFile(const std::string& in, const std::string& out,
                         std::string_view aad) const {
  Fd dst(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (dst.get() < 0) return Status::io(out, std::string("cannot create: ") + std::strerror(errno));
  bool wrote = true;
  Status opened = openFileTo(in, aad, [&](std::string_view chunk) {
    wrote = writeFull(dst.get(), chunk);
    return wrote;
  });
  if (opened.isOk() && (::fsync(dst.get()) != 0 || !dst.closeChecked())) wrote = false;
  if (!opened.isOk() || !wrote) {
    ::unlink(out.c_str());
    return wrote ? opened : Status::io(out, "write failed");
  }
  return Status::ok();
}

Status Keyring::resealFile(const std::string& in, const std::string& out,
                           std::string_view aad) const {
  std::optional<std::pair<uint32_t, std::string>> active = copyKey(std::nullopt);
  if (!active) throw std::logic_error("no data key to seal with");
  KeyCopy key{active->first, std::move(active->second)};
  ChunkWriter writer(key, aad, out);
  if (Status s = writer.open(); !s.isOk()) return s;
  Status added;
  Status opened = openFileTo(in, aad, [&](std::string_view chunk) {
    added = writer.add(chunk);
    return added.isOk();
  });
  if (!added.isOk()) return added;
  if (!opened.isOk()) return opened;
  return writer.finish();
}

std::optional<uint32_t> Keyring::sealedFileKeyId(const std::string& path) {
  Fd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (src.get() < 0) return std::nullopt;
  char header[kMagicSize + 4];
  if (readFull(src.get(), header, sizeof header) != static_cast<ssize_t>(sizeof header) ||
      std::memcmp(header, kFileMagic, kMagicSize) != 0) {
    return std::nullopt;
  }
  return readU32(header + kMagicSize);
}

}  // namespace labgate::security
