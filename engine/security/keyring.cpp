// Encryption at rest on OpenSSL 3's EVP AES-256-GCM: the key file, wrapped data keys, sealed
// blobs and chunked sealed files (see keyring.h for the formats). Key material never reaches a
// log, an exception message or a Status; buffers that held it are cleansed before release.
#include "engine/security/keyring.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "engine/security/crypto.h"
#include "engine/security/posix_file.h"

namespace labgate::security {
namespace {

constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr char kBlobMagic[] = "LGE1";  // sealed blob
constexpr size_t kMagicSize = 4;
constexpr size_t kBlobHeaderSize = kMagicSize + 4;  // magic | key id

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

/// Overwrites a string that held key material, then empties it.
void cleanse(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

const unsigned char* uc(std::string_view s) {
  static const unsigned char kEmpty[1] = {0};
  return s.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

void appendU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

uint32_t readU32(std::string_view s) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

/// Feeds `in` through EVP_*Update in pieces no larger than INT_MAX, appending to `out`.
bool cipherUpdate(EVP_CIPHER_CTX* ctx, bool encrypt, std::string_view in, std::string& out) {
  size_t done = 0;
  const size_t base = out.size();
  out.resize(base + in.size());
  size_t written = 0;
  while (done < in.size()) {
    const int piece = static_cast<int>(std::min<size_t>(in.size() - done, INT_MAX / 2));
    int len = 0;
    auto* dst = reinterpret_cast<unsigned char*>(out.data() + base + written);
    const int ok = encrypt ? EVP_EncryptUpdate(ctx, dst, &len, uc(in.substr(done)), piece)
                           : EVP_DecryptUpdate(ctx, dst, &len, uc(in.substr(done)), piece);
    if (ok != 1) return false;
    done += static_cast<size_t>(piece);
    written += static_cast<size_t>(len);
  }
  out.resize(base + written);
  return true;
}

bool setAad(EVP_CIPHER_CTX* ctx, bool encrypt, std::string_view aad) {
  size_t done = 0;
  while (done < aad.size()) {
    const int piece = static_cast<int>(std::min<size_t>(aad.size() - done, INT_MAX / 2));
    int len = 0;
    const int ok = encrypt ? EVP_EncryptUpdate(ctx, nullptr, &len, uc(aad.substr(done)), piece)
                           : EVP_DecryptUpdate(ctx, nullptr, &len, uc(aad.substr(done)), piece);
    if (ok != 1) return false;
    done += static_cast<size_t>(piece);
  }
  return true;
}

/// Strict RFC 4648 §4 base64 (padding required); nullopt on anything else.
std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = text[i + static_cast<size_t>(j)];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = value(c);
      if (v[j] < 0) return std::nullopt;
    }
    const uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                       (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out.push_back(static_cast<char>((n >> 16) & 0xFF));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xFF));
  }
  return out;
}

std::string base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), uc(bytes),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string fingerprintOf(std::string_view key) { return tokenDigest(key).substr(0, 16); }

/// True when `path` is `dir` or lies below it (both resolved through symbolic links).
bool isInside(const std::filesystem::path& path, const std::filesystem::path& dir) {
  std::error_code ec;
  const auto p = std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec);
  const auto d = std::filesystem::weakly_canonical(std::filesystem::absolute(dir, ec), ec);
  if (ec) return false;
  auto pi = p.begin();
  for (auto di = d.begin(); di != d.end(); ++di, ++pi) {
    if (di->empty()) continue;  // a trailing separator
    if (pi == p.end() || *pi != *di) return false;
  }
  return true;
}

std::string dekAad(uint32_t id) {
  std::string aad = "labgate-data-key:";
  appendU32(aad, id);
  return aad;
}

}  // namespace

// --- key files
// ------------------------------------------------------------------------------------

StatusOr<KeyEncryptionKey> loadKeyFile(const std::string& path, const std::string& dataDir,
                                       const std::string& key) {
  if (path.empty()) return Status::config(key, "no key file named");
  // One descriptor for every check and the read: what is checked is what is read. O_NONBLOCK so
  // that a FIFO planted under the name cannot block the start.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    return Status::config(key, "key file " + path + " cannot be read: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Status::config(key, "key file " + path + " cannot be read: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode))
    return Status::config(key, "key file " + path + " is not a regular file");
  const std::string mode = groupOrOtherAccess(st, path);
  if (!mode.empty()) return Status::config(key, "key file " + mode);
  const std::string owner = ownerProblem(st, path);
  if (!owner.empty()) return Status::config(key, "key file " + owner);
  if (st.st_nlink > 1) {
    // Another name for the same key may lie inside data.dir or its backups, which a comparison of
    // paths cannot see: a key file has exactly one name.
    return Status::config(key, "key file " + path + " has " + std::to_string(st.st_nlink) +
                                   " hard links: another name for the key may lie inside data.dir "
                                   "or be carried into a backup; remove the other names (find / "
                                   "-xdev -samefile " +
                                   path + " lists them) so that the key has one name only");
  }
  if (!dataDir.empty() && isInside(path, dataDir)) {
    return Status::config(key, "key file " + path + " lies inside data.dir (" + dataDir +
                                   "); keep it outside the data directory and its backups");
  }
  std::string text(256, '\0');
  const ssize_t n = readFull(fd.get(), text.data(), text.size());
  if (n < 0) return Status::config(key, "key file " + path + " cannot be read");
  text.resize(static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  std::optional<std::string> bytes = base64Decode(text);
  cleanse(text);
  if (!bytes || bytes->size() != kKeySize) {
    if (bytes) cleanse(*bytes);
    return Status::config(key, "key file " + path +
                                   " does not hold a key (expected base64 of 32 bytes on one "
                                   "line; `labgate keygen FILE` writes one)");
  }
  KeyEncryptionKey kek;
  kek.fingerprint = fingerprintOf(*bytes);
  kek.bytes = std::move(*bytes);
  return kek;
}

Status writeNewKeyFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == EEXIST)
      return Status::config(path, "the file exists; a key file is never overwritten");
    return Status::io(path, std::string("cannot create the key file: ") + std::strerror(err));
  }
  if (::fchmod(fd.get(), 0600) != 0) {
    ::unlink(path.c_str());
    return Status::io(path, "cannot set mode 0600 on the key file");
  }
  std::string raw = randomBytes(kKeySize);
  std::string text = base64Encode(raw) + "\n";
  cleanse(raw);
  const bool ok = writeFull(fd.get(), text) && ::fsync(fd.get()) == 0;
  cleanse(text);
  if (!fd.closeChecked() || !ok) {
    ::unlink(path.c_str());
    return Status::io(path, "cannot write the key file");
  }
  return Status::ok();
}

StatusOr<std::shared_ptr<Keyring>> openKeyring(const std::string& keyFile,
                                               const std::string& previousKeyFile,
                                               const std::string& dataDir) {
  if (keyFile.empty()) {
    if (!previousKeyFile.empty()) {
      return Status::config("security.previous_key_file", "set, but security.key_file is not");
    }
    return std::shared_ptr<Keyring>();
  }
  StatusOr<KeyEncryptionKey> kek = loadKeyFile(keyFile, dataDir, "security.key_file");
  if (!kek.isOk()) return kek.status();
  std::optional<KeyEncryptionKey> previous;
  if (!previousKeyFile.empty()) {
    StatusOr<KeyEncryptionKey> old =
        loadKeyFile(previousKeyFile, dataDir, "security.previous_key_file");
    if (!old.isOk()) return old.status();
    if (old->fingerprint == kek->fingerprint) {
      return Status::config("security.previous_key_file",
                            "holds the same key as security.key_file (" + kek->fingerprint + ")");
    }
    previous = std::move(old).value();
  }
  return std::make_shared<Keyring>(std::move(kek).value(), std::move(previous));
}

// --- AES-256-GCM
// ------------------------------------------------------------------------------------

std::string aesGcmSeal(std::string_view key, std::string_view plain, std::string_view aad) {
  if (key.size() != kKeySize) throw std::invalid_argument("AES-256-GCM needs a 32-byte key");
  const std::string nonce = randomBytes(kNonceSize);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw std::runtime_error("EVP_CIPHER_CTX_new failed");
  std::string out = nonce;
  out.reserve(kNonceSize + plain.size() + kTagSize);
  int len = 0;
  unsigned char tag[kTagSize];
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, uc(key), uc(nonce)) != 1 ||
      !setAad(ctx.get(), true, aad) || !cipherUpdate(ctx.get(), true, plain, out) ||
      EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag) != 1) {
    throw std::runtime_error("AES-256-GCM encryption failed");
  }
  out.append(reinterpret_cast<const char*>(tag), kTagSize);
  return out;
}

std::optional<std::string> aesGcmOpen(std::string_view key, std::string_view sealed,
                                      std::string_view aad) {
  if (key.size() != kKeySize || sealed.size() < kNonceSize + kTagSize) return std::nullopt;
  const std::string_view nonce = sealed.substr(0, kNonceSize);
  const std::string_view body = sealed.substr(kNonceSize, sealed.size() - kNonceSize - kTagSize);
  std::string tag(sealed.substr(sealed.size() - kTagSize));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return std::nullopt;
  std::string out;
  out.reserve(body.size());
  int len = 0;
  unsigned char final[16];
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, uc(key), uc(nonce)) != 1 ||
      !setAad(ctx.get(), false, aad) || !cipherUpdate(ctx.get(), false, body, out) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), final, &len) != 1) {
    cleanse(out);
    return std::nullopt;
  }
  return out;
}

// --- Keyring
// ----------------------------------------------------------------------------------------

Keyring::Keyring(KeyEncryptionKey kek) : kek_(std::move(kek)) {
  if (kek_.bytes.size() != kKeySize) throw std::invalid_argument("a KEK has 32 bytes");
}

Keyring::Keyring(KeyEncryptionKey kek, std::optional<KeyEncryptionKey> previous)
    : Keyring(std::move(kek)) {
  if (previous) {
    if (previous->bytes.size() != kKeySize) throw std::invalid_argument("a KEK has 32 bytes");
    previous_ = std::move(*previous);
  }
}

Keyring::~Keyring() {
  cleanse(kek_.bytes);
  if (previous_) cleanse(previous_->bytes);
  for (auto& [id, key] : dataKeys_) cleanse(key);
}

Status Keyring::addDataKey(const WrappedKey& key) {
  const KeyEncryptionKey* kek = nullptr;
  if (key.kekFingerprint == kek_.fingerprint) {
    kek = &kek_;
  } else if (previous_ && key.kekFingerprint == previous_->fingerprint) {
    kek = &*previous_;
  } else {
    std::string known = kek_.fingerprint;
    if (previous_) known += " or the previous key " + previous_->fingerprint;
    return Status::config("security.key_file", "data key " + std::to_string(key.id) +
                                                   " is wrapped by key-encryption key " +
                                                   key.kekFingerprint +
                                                   ", not by the configured key " + known);
  }
  std::optional<std::string> raw = aesGcmOpen(kek->bytes, key.wrapped, dekAad(key.id));
  if (!raw || raw->size() != kKeySize) {
    if (raw) cleanse(*raw);
    return Status::invalid("data key " + std::to_string(key.id),
                           "does not unwrap under key-encryption key " + kek->fingerprint);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = dataKeys_.try_emplace(key.id);
  if (!inserted) cleanse(it->second);
  it->second = std::move(*raw);
  return Status::ok();
}

WrappedKey Keyring::newDataKey(uint32_t id) {
  std::string raw = randomBytes(kKeySize);
  WrappedKey wrapped;
  wrapped.id = id;
  wrapped.wrapped = aesGcmSeal(kek_.bytes, raw, dekAad(id));
  wrapped.kekFingerprint = kek_.fingerprint;
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = dataKeys_.try_emplace(id);
  if (!inserted) cleanse(it->second);
  it->second = std::move(raw);
  return wrapped;
}

void Keyring::forgetDataKey(uint32_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = dataKeys_.find(id);
  if (it == dataKeys_.end()) return;
  cleanse(it->second);
  dataKeys_.erase(it);
}

std::optional<WrappedKey> Keyring::rewrap(uint32_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = dataKeys_.find(id);
  if (it == dataKeys_.end()) return std::nullopt;
  WrappedKey wrapped;
  wrapped.id = id;
  wrapped.wrapped = aesGcmSeal(kek_.bytes, it->second, dekAad(id));
  wrapped.kekFingerprint = kek_.fingerprint;
  return wrapped;
}

std::optional<uint32_t> Keyring::activeKeyId() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (dataKeys_.empty()) return std::nullopt;
  return dataKeys_.rbegin()->first;
}

std::optional<std::string> Keyring::previousKekFingerprint() const {
  if (!previous_) return std::nullopt;
  return previous_->fingerprint;
}

std::optional<uint32_t> Keyring::sealedKeyId(std::string_view sealed) {
  if (sealed.size() < kBlobHeaderSize || sealed.substr(0, kMagicSize) != kBlobMagic) {
    return std::nullopt;
  }
  return readU32(sealed.substr(kMagicSize));
}

std::string Keyring::seal(std::string_view plain, std::string_view aad) const {
  std::string header(kBlobMagic, kMagicSize);
  std::string key;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dataKeys_.empty()) throw std::logic_error("no data key to seal with");
    appendU32(header, dataKeys_.rbegin()->first);
    key = dataKeys_.rbegin()->second;
  }
  std::string inner = header;
  inner.append(aad);
  std::string out = header + aesGcmSeal(key, plain, inner);
  cleanse(key);
  return out;
}

std::optional<std::pair<uint32_t, std::string>> Keyring::copyKey(std::optional<uint32_t> id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (dataKeys_.empty()) return std::nullopt;
  auto it = id ? dataKeys_.find(*id) : std::prev(dataKeys_.end());
  if (it == dataKeys_.end()) return std::nullopt;
  return std::make_pair(it->first, it->second);
}

std::vector<uint32_t> Keyring::dataKeyIds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<uint32_t> out;
  for (const auto& entry : dataKeys_) out.push_back(entry.first);
  return out;
}

std::optional<std::string> Keyring::open(std::string_view sealed, std::string_view aad) const {
  const std::optional<uint32_t> id = sealedKeyId(sealed);
  if (!id) return std::nullopt;
  std::string key;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = dataKeys_.find(*id);
    if (it == dataKeys_.end()) return std::nullopt;
    key = it->second;
  }
  std::string inner(sealed.substr(0, kBlobHeaderSize));
  inner.append(aad);
  std::optional<std::string> out = aesGcmOpen(key, sealed.substr(kBlobHeaderSize), inner);
  cleanse(key);
  return out;
}

}  // namespace labgate::security
