// The server's Ed25519 signing key (see signing_key.h).
#include "engine/security/signing_key.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <stdexcept>

#include "engine/security/posix_file.h"

namespace labgate::security {
namespace {

constexpr const char* kPlainName = "/signing-key.pem";
std::string sealedPathOf(const std::string& dataDir) {
  return dataDir + "/" + kSealedSigningKeyFile;
}
constexpr std::string_view kSealAad = "labgate-signing-key";
constexpr size_t kRawKeySize = 32;

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::optional<std::string> readSmallFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    return std::nullopt;
  }
  std::string out(4096, '\0');
  ssize_t n = readFull(fd.get(), out.data(), out.size());
  if (n < 0) {
    return std::nullopt;
  }
  out.resize(static_cast<size_t>(n));
  return out;
}

/// Writes `data` to a new private file (mode 0600) through a temporary name, then renames it.
Status writePrivate(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0 || !writeFull(fd.get(), data) || ::fsync(fd.get()) != 0) {
    ::unlink(tmp.c_str());
    return Status::io(path, "cannot write the signing key");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::io(path, "cannot write the signing key");
  }
  return Status::ok();
}

Pkey fromRaw(std::string_view raw) {
  return Pkey(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
}

std::optional<std::string> rawPrivate(EVP_PKEY* key) {
  std::string raw(kRawKeySize, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_private_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != kRawKeySize) {
    return std::nullopt;
  }
  return raw;
}

std::string privatePem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

/// The first 16 hex digits of the SHA-256 of the raw public key ("" when OpenSSL cannot say).
std::string fingerprintOf(EVP_PKEY* key) {
  std::array<unsigned char, kRawKeySize> pub{};
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key, pub.data(), &len) != 1) return "";
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(pub.data(), len, digest.data());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 8; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0f];
  }
  return out;
}

Pkey parsePrivatePem(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return nullptr;
  }
  return Pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

}  // namespace

struct SigningKey::Key {
  Pkey pkey;
};

SigningKey::SigningKey(std::unique_ptr<Key> key) : key_(std::move(key)) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (bio && PEM_write_bio_PUBKEY(bio.get(), key_->pkey.get()) == 1) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    publicPem_.assign(data, static_cast<size_t>(len));
  }
  fingerprint_ = fingerprintOf(key_->pkey.get());
}

SigningKey::~SigningKey() = default;

StatusOr<std::shared_ptr<SigningKey>> SigningKey::loadOrCreate(const std::string& dataDir,
                                                               const KeyEncryptionKey* kek,
                                                               const KeyEncryptionKey* previous) {
  const std::string plainPath = dataDir + kPlainName;
  const std::string sealedPath = sealedPathOf(dataDir);
  auto key = std::make_unique<Key>();
  bool reseal = false;  // sealed under the previous key file: seal it again under the current one
  bool generated = false;
  if (kek != nullptr && exists(sealedPath)) {
    std::optional<std::string> text = readSmallFile(sealedPath);
    std::optional<std::string> sealed = text ? base64Decode(*text) : std::nullopt;
    std::optional<std::string> raw =
        sealed ? aesGcmOpen(kek->bytes, *sealed, kSealAad) : std::nullopt;
    if (!raw && sealed && previous != nullptr) {
      raw = aesGcmOpen(previous->bytes, *sealed, kSealAad);
      reseal = raw.has_value();
    }
    if (!raw) {
      std::string keys = "this key file (fingerprint " + kek->fingerprint + ")";
      if (previous != nullptr) {
        keys += " nor with security.previous_key_file (fingerprint " + previous->fingerprint + ")";
      }
      return Status::config("security.key_file", "the signing key " + sealedPath +
                                                     " does not open with " + keys +
                                                     ": configure the key file it was sealed with");
    }
    key->pkey = fromRaw(*raw);
    OPENSSL_cleanse(raw->data(), raw->size());
  } else if (exists(plainPath)) {
    std::optional<std::string> pem = readSmallFile(plainPath);
    if (pem) {
      key->pkey = parsePrivatePem(*pem);
      OPENSSL_cleanse(pem->data(), pem->size());
    }
    if (!key->pkey || EVP_PKEY_get_base_id(key->pkey.get()) != EVP_PKEY_ED25519) {
      return Status::config("data.dir", plainPath + " is not an Ed25519 private key in PEM");
    }
  } else if (kek == nullptr && exists(sealedPath)) {
    return Status::config("security.key_file", "not set, but the signing key is sealed (" +
                                                   sealedPath +
                                                   "); set it to the key file it was sealed with");
  } else {
    EVP_PKEY* made = nullptr;
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    bool ok = ctx != nullptr && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &made) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
      return Status::io("data.dir", "cannot generate the Ed25519 signing key");
    }
    key->pkey.reset(made);
    generated = true;
    if (kek == nullptr) {
      std::string pem = privatePem(key->pkey.get());
      Status written = writePrivate(plainPath, pem);
      OPENSSL_cleanse(pem.data(), pem.size());
      if (!written.isOk()) {
        return written;
      }
    }
  }
  if (!key->pkey) {
    return Status::io("data.dir", "cannot read the signing key");
  }
  if (kek != nullptr && (reseal || !exists(sealedPath))) {
    // Seal (a new key, or a plain one from before security.key_file was set) and drop the plain.
    std::optional<std::string> raw = rawPrivate(key->pkey.get());
    if (!raw) {
      return Status::io("data.dir", "cannot export the signing key for sealing");
    }
    const std::string sealed = base64Encode(aesGcmSeal(kek->bytes, *raw, kSealAad));
    OPENSSL_cleanse(raw->data(), raw->size());
    Status written = writePrivate(sealedPath, sealed);
    if (!written.isOk()) {
      return written;
    }
    ::unlink(plainPath.c_str());
  }
  std::shared_ptr<SigningKey> loaded(new SigningKey(std::move(key)));
  loaded->isNew_ = generated;
  return loaded;
}

StatusOr<std::string> sealedSigningKeyFingerprint(std::string_view sealedText,
                                                  const KeyEncryptionKey& kek) {
  std::optional<std::string> sealed = base64Decode(sealedText);
  if (!sealed) return Status::invalid("signing key", "the sealed signing key is not base64");
  std::optional<std::string> raw = aesGcmOpen(kek.bytes, *sealed, kSealAad);
  if (!raw) {
    return Status::invalid("signing key",
                           "the sealed signing key does not open with key " + kek.fingerprint);
  }
  Pkey key = raw->size() == kRawKeySize ? fromRaw(*raw) : nullptr;
  OPENSSL_cleanse(raw->data(), raw->size());
  if (!key) return Status::invalid("signing key", "the sealed signing key is not an Ed25519 key");
  std::string fingerprint = fingerprintOf(key.get());
  if (fingerprint.empty()) return Status::invalid("signing key", "the public key is unreadable");
  return fingerprint;
}

Status installSealedSigningKey(const std::string& dataDir, std::string_view sealedText) {
  const std::string path = sealedPathOf(dataDir);
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return Status::io(path, "cannot create the signing key file");
  if (!writeFull(fd.get(), sealedText) || ::fsync(fd.get()) != 0 || !fd.closeChecked()) {
    ::unlink(path.c_str());
    return Status::io(path, "cannot write the signing key file");
  }
  return Status::ok();
}

std::string SigningKey::sign(std::string_view bytes) const {
  MdCtx ctx(EVP_MD_CTX_new());
  std::string out(64, '\0');
  size_t len = out.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                     reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()) != 1) {
    throw std::runtime_error("Ed25519 signing failed");
  }
  out.resize(len);
  return out;
}

Status verifyEd25519(const std::string& publicPem, std::string_view bytes,
                     std::string_view signature) {
  Bio bio(BIO_new_mem_buf(publicPem.data(), static_cast<int>(publicPem.size())));
  Pkey key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    return Status::invalid("public_key", "not a PEM public key");
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519) {
    return Status::invalid("public_key", "not an Ed25519 public key");
  }
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return Status::invalid("public_key", "the key cannot verify");
  }
  int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
  if (ok != 1) {
    return Status::invalid("signature",
                           "the Ed25519 signature does not match the signed bytes and this key");
  }
  return Status::ok();
}

std::string base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  std::string in;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ') {
      in += c;
    }
  }
  if (in.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(in.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) {
    return std::nullopt;
  }
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  if (!in.empty() && in.back() == '=') --len;
  if (in.size() >= 2 && in[in.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

}  // namespace labgate::security
