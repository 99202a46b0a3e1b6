// The server's Ed25519 signing key (21 CFR Part 11 §11.70, docs/signatures.md): every electronic
// signature's bytes are signed with it, so that a signature copied elsewhere or a signed record
// edited afterwards is detected, online and offline with the public key alone.
//
// Generated (OpenSSL EVP) at the first start in data.dir. Without security.key_file it is kept as
// <data.dir>/signing-key.pem (PKCS#8, mode 0600); with one, as <data.dir>/signing-key.sealed
// (AES-256-GCM under the key-encryption key, base64), and a plain file left from before is sealed
// and removed. A sealed key that the key-encryption key does not open stops the start (naming
// security.key_file): a new key would silently orphan every signature's public key.
//
// Backups carry the sealed key (engine/store/backup.h, docs/backup.md): a restore puts it back into
// data.dir, so that the restored engine signs and verifies with the same key.
//
// Thread-safety: sign() and the accessors may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/model/status.h"
#include "engine/security/keyring.h"

namespace labgate::security {

/// The sealed key's file name in data.dir (used when security.key_file is set).
inline constexpr const char* kSealedSigningKeyFile = "signing-key.sealed";

class SigningKey {
 public:
  /// Loads the key of `dataDir`, creating it when there is none (see the file comment). `kek`:
  /// security.key_file's key, or null; `previous`: security.previous_key_file's during a
  /// rotation, or null: a key sealed under it is opened and sealed again under `kek`.
  static StatusOr<std::shared_ptr<SigningKey>> loadOrCreate(
      const std::string& dataDir, const KeyEncryptionKey* kek,
      const KeyEncryptionKey* previous = nullptr);
  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  /// The public key as PEM (SubjectPublicKeyInfo), what `openssl pkeyutl -verify` takes.
  const std::string& publicPem() const { return publicPem_; }
  /// The first 16 hex digits of the SHA-256 of the raw public key: names the key.
  const std::string& fingerprint() const { return fingerprint_; }
  /// The 64-byte Ed25519 signature of `bytes` (raw). Throws std::runtime_error if OpenSSL fails.
  std::string sign(std::string_view bytes) const;
  /// Whether loadOrCreate generated this key (data.dir held none).
  bool isNew() const { return isNew_; }

 private:
  struct Key;
  explicit SigningKey(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
  std::string publicPem_;
  std::string fingerprint_;
  bool isNew_ = false;
};

/// The fingerprint (SigningKey::fingerprint()) of the key a sealed key file's text holds, opened
/// with `kek`. Status::invalid when it is not base64, does not open with `kek` or is not an
/// Ed25519 key. Nothing of the key leaves this function.
StatusOr<std::string> sealedSigningKeyFingerprint(std::string_view sealedText,
                                                  const KeyEncryptionKey& kek);

/// Writes a sealed key file's text as <dataDir>/signing-key.sealed (mode 0600, fsync'ed); a file
/// of that name must not exist (Status::io otherwise).
Status installSealedSigningKey(const std::string& dataDir, std::string_view sealedText);

/// Verifies an Ed25519 `signature` (raw, 64 bytes) of `bytes` with the PEM public key
/// `publicPem`. Status::invalid naming what is wrong (not a key, not Ed25519, no match).
Status verifyEd25519(const std::string& publicPem, std::string_view bytes,
                     std::string_view signature);

/// RFC 4648 §4 base64 with padding, and its inverse (nullopt on anything else).
std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace labgate::security
