// The spool file of one upload: the request body written to disk as it arrives, so that memory
// does not grow with the upload (issue 18, finding 8), then read back by the export pipeline like
// a dropped file.
//
// The file lives under <data.dir>/spool/<connector>/, is created 0600 (mkstemp) and holds the
// body encrypted with AES-256-CTR under a key and nonce drawn for this upload and kept only in
// memory: nothing readable reaches the disk before the PHI gate has seen the content, and a file
// a crash leaves behind is noise (the connector also removes such files when it starts). The name
// is unlinked as soon as the body is complete (finish()); the content stays readable through
// reader() until the object is destroyed, which closes the descriptor, and removes the file in
// any case.
//
// Not thread-safe: one request's thread uses it from create() to destruction.
#pragma once

#include <Poco/SHA2Engine.h>

#include <cstdint>
#include <istream>
#include <memory>
#include <streambuf>
#include <string>
#include <vector>

#include "engine/model/status.h"

namespace labgate::http {

class SpoolFile {
 public:
  /// Bytes of the body's start kept in memory for format detection.
  static constexpr size_t kHeadBytes = 65536;

  /// Creates a spool file in `dir` (which must exist). Status::io naming `dir` when it cannot.
  static StatusOr<std::unique_ptr<SpoolFile>> create(const std::string& dir);
  ~SpoolFile();
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;

  /// Appends `n` bytes of the body (hashed, counted, encrypted, written); false on a write error
  /// (disk full), with errno set.
  bool write(const char* data, size_t n);

  enum class Copy { kDone, kTooLarge, kFailed };
  /// Copies `in` to its end, at most `limit` bytes in all: kTooLarge as soon as there is more,
  /// kFailed when the file could not be written.
  Copy copyFrom(std::istream& in, int64_t limit);

  /// Ends writing: unlinks the name. False (errno set) when it cannot.
  bool finish();
  /// The body as written, from its start, seekable; valid after finish() while this lives.
  std::istream& reader();

  /// SHA-256 of the body (hex), its size, its first kHeadBytes.
  std::string sha256Hex();
  int64_t size() const { return size_; }
  const std::string& head() const { return head_; }
  const std::string& path() const { return path_; }

 private:
  class Decrypting;
  SpoolFile(std::string path, int fd);

  std::string path_;
  int fd_;
  bool unlinked_ = false;
  std::string key_;    // AES-256 key, this upload only
  std::string nonce_;  // initial counter block
  struct Cipher;
  std::unique_ptr<Cipher> writer_;
  Poco::SHA2Engine sha_{Poco::SHA2Engine::SHA_256};
  std::string head_;
  int64_t size_ = 0;
  std::vector<char> scratch_;
  std::unique_ptr<Decrypting> decrypting_;
  std::unique_ptr<std::istream> reader_;
};

}  // namespace labgate::http
