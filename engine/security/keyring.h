// Encryption at rest: AES-256-GCM (OpenSSL 3) under data keys that are themselves wrapped by a
// key-encryption key (KEK) read from a key file outside the data directory.
//
// - The key file (security.key_file) holds 32 random bytes, base64 on one line (`labgate keygen
//   FILE` writes one with mode 0600). It must not be readable or writable by group or others, must
//   be owned by root or the user labgated runs as, must have no other name (hard link) and must
//   not lie inside data.dir; start-up refuses otherwise, naming the key.
// - Data keys (DEKs) are 32 random bytes, stored in the database only wrapped (AES-256-GCM under
// the
//   KEK, with the KEK's fingerprint). Rotating the KEK re-wraps the DEKs and re-encrypts nothing;
//   re-encrypting content under a new DEK is a separate, background job.
// - A sealed blob is self-describing: "LGE1" | DEK id (uint32 BE) | 12-byte random nonce |
//   ciphertext | 16-byte tag. `aad` binds a blob to its place (e.g. "message-body"), so a blob
//   moved to another column does not open.
// - Files (backups, uploaded files) are sealed in chunks so that memory stays bounded.
//
// Thread-safety: a Keyring is immutable after construction except addDataKey(), which is
// internally synchronised; seal/open may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/model/status.h"

namespace labgate::security {

/// 32 bytes of key material read from a key file.
struct KeyEncryptionKey {
  std::string bytes;        // raw, 32 bytes
  std::string fingerprint;  // hex SHA-256 of the bytes, first 16 hex digits: names the KEK
};

/// Reads and checks a key file (all checks on the one descriptor that is read): exists, regular
/// file, mode without group/other bits, owned by root or by this process's user, one name only
/// (st_nlink 1: a hard link inside `dataDir` is invisible to a path comparison), not inside
/// `dataDir` (when not empty), base64 of exactly 32 bytes. Errors are Status::config(`key`, ...)
/// naming the file, what is wrong and the fix.
StatusOr<KeyEncryptionKey> loadKeyFile(const std::string& path, const std::string& dataDir,
                                       const std::string& key = "security.key_file");

/// Writes a new key file with mode 0600 (refuses to overwrite an existing file).
Status writeNewKeyFile(const std::string& path);

class Keyring;
/// The keyring of a configuration: null when `keyFile` is empty (no encryption at rest), else the
/// KEK of `keyFile` (security.key_file) with, when not empty, the previous one of
/// `previousKeyFile` (security.previous_key_file) for a rotation. Errors name the key.
StatusOr<std::shared_ptr<Keyring>> openKeyring(const std::string& keyFile,
                                               const std::string& previousKeyFile,
                                               const std::string& dataDir);

/// A wrapped data key as stored.
struct WrappedKey {
  uint32_t id = 0;
  std::string wrapped;  // sealed under the KEK (nonce | ciphertext | tag), raw bytes
  std::string kekFingerprint;
};

/// AES-256-GCM of `plain` under `key` (32 bytes) with a random nonce: nonce | ciphertext | tag.
std::string aesGcmSeal(std::string_view key, std::string_view plain, std::string_view aad);
/// Inverse of aesGcmSeal; nullopt when the tag does not verify (wrong key, tampered, wrong aad).
std::optional<std::string> aesGcmOpen(std::string_view key, std::string_view sealed,
                                      std::string_view aad);

class Keyring {
 public:
  explicit Keyring(KeyEncryptionKey kek);
  /// With the previous KEK (security.previous_key_file) during a rotation: addDataKey also
  /// unwraps data keys wrapped by `previous`, and rewrap() wraps them under `kek`.
  Keyring(KeyEncryptionKey kek, std::optional<KeyEncryptionKey> previous);
  ~Keyring();
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  /// Unwraps a stored data key (Status::config naming the fingerprint when it was wrapped by
  /// another KEK, Status::invalid when it does not verify).
  Status addDataKey(const WrappedKey& key);
  /// Makes a new data key with id `id`, adds it, and returns it wrapped for storage.
  WrappedKey newDataKey(uint32_t id);
  /// Drops data key `id` (one newDataKey made whose row could not be stored).
  void forgetDataKey(uint32_t id);
  /// Re-wraps an unwrapped data key under this keyring's KEK (KEK rotation).
  std::optional<WrappedKey> rewrap(uint32_t id) const;
  /// The data key new content is sealed with (the highest id added).
  std::optional<uint32_t> activeKeyId() const;
  const std::string& kekFingerprint() const { return kek_.fingerprint; }
  /// The previous KEK's fingerprint, when one was given.
  std::optional<std::string> previousKekFingerprint() const;
  /// The data key id a sealed blob names; nullopt when it is not a sealed blob.
  static std::optional<uint32_t> sealedKeyId(std::string_view sealed);

  /// Seals `plain` with the active data key. Throws std::logic_error if there is none.
  std::string seal(std::string_view plain, std::string_view aad) const;
  /// Opens a sealed blob with the data key it names; nullopt when unknown key or tampered.
  std::optional<std::string> open(std::string_view sealed, std::string_view aad) const;

  /// Seals the file `in` into `out` (chunks of 1 MiB, each with its own nonce and the chunk
  /// index and a final flag in its AAD, so chunks cannot be reordered, dropped or truncated).
  Status sealFile(const std::string& in, const std::string& out, std::string_view aad) const;
  Status openFile(const std::string& in, const std::string& out, std::string_view aad) const;
  /// Seals what `in` reads (to its end) into `out`, in the format of sealFile.
  Status sealStream(std::istream& in, const std::string& out, std::string_view aad) const;
  /// Opens the sealed file `in`, handing each verified chunk to `sink` in order; `sink` returns
  /// false to stop (Status::io). Chunks are verified one by one: a later chunk may fail
  /// (Status::invalid) after earlier ones were handed over.
  Status openFileTo(const std::string& in, std::string_view aad,
                    const std::function<bool(std::string_view)>& sink) const;
  /// Re-seals the sealed file `in` under the active data key into `out`, chunk by chunk: no
  /// plaintext reaches the disk and memory stays bounded.
  Status resealFile(const std::string& in, const std::string& out, std::string_view aad) const;
  /// The data key id a sealed file names; nullopt when it is not a sealed file.
  static std::optional<uint32_t> sealedFileKeyId(const std::string& path);
  /// The ids of the data keys held, ascending.
  std::vector<uint32_t> dataKeyIds() const;

 private:
  /// A copy of data key `id` (the active one when nullopt) with its id; the caller cleanses it.
  std::optional<std::pair<uint32_t, std::string>> copyKey(std::optional<uint32_t> id) const;

  KeyEncryptionKey kek_;
  std::optional<KeyEncryptionKey> previous_;
  mutable std::mutex mutex_;
  std::map<uint32_t, std::string> dataKeys_;  // id → raw key
};

}  // namespace labgate::security
