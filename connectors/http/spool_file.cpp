// The spool file of one upload (see spool_file.h).
#include "connectors/http/spool_file.h"

#include <Poco/DigestEngine.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "engine/security/crypto.h"

namespace labgate::http {

/// An AES-256-CTR keystream positioned at a byte offset of the body.
struct SpoolFile::Cipher {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();

  Cipher(const std::string& key, const std::string& nonce, int64_t offset) {
    if (!ctx) throw std::runtime_error("EVP_CIPHER_CTX_new failed");
    // The counter block of `offset`: the nonce plus offset / 16, as a 128-bit big-endian sum.
    unsigned char counter[16];
    std::memcpy(counter, nonce.data(), 16);
    uint64_t add = static_cast<uint64_t>(offset) / 16;
    for (int i = 15; i >= 0 && add != 0; --i) {
      uint64_t sum = counter[i] + (add & 0xff);
      counter[i] = static_cast<unsigned char>(sum);
      add = (add >> 8) + (sum >> 8);
    }
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nullptr,
                           reinterpret_cast<const unsigned char*>(key.data()), counter) != 1) {
      throw std::runtime_error("AES-256-CTR initialisation failed");
    }
    unsigned char skip[16];
    int ignored = 0;
    const int within = static_cast<int>(offset % 16);
    if (within > 0) EVP_EncryptUpdate(ctx, skip, &ignored, skip, within);
  }
  ~Cipher() { EVP_CIPHER_CTX_free(ctx); }
  Cipher(const Cipher&) = delete;
  Cipher& operator=(const Cipher&) = delete;

  /// XORs the keystream into `n` bytes of `in`, writing `out` (CTR: encrypt = decrypt).
  void apply(const char* in, char* out, size_t n) {
    int written = 0;
    if (EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out), &written,
                          reinterpret_cast<const unsigned char*>(in), static_cast<int>(n)) != 1 ||
        written != static_cast<int>(n)) {
      throw std::runtime_error("AES-256-CTR failed");
    }
  }
};

/// Reads the file back in plain text: a seekable stream buffer over pread(), 64 KiB at a time.
class SpoolFile::Decrypting : public std::streambuf {
 public:
  Decrypting(const SpoolFile& spool) : spool_(spool), buffer_(1 << 16), encrypted_(1 << 16) {
    setg(buffer_.data(), buffer_.data(), buffer_.data());
  }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    const int64_t next = start_ + (egptr() - eback());
    if (next >= spool_.size_) return traits_type::eof();
    const size_t n = static_cast<size_t>(
        std::min<int64_t>(static_cast<int64_t>(buffer_.size()), spool_.size_ - next));
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(spool_.fd_, encrypted_.data() + got, n - got,
                          static_cast<off_t>(next + static_cast<int64_t>(got)));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return traits_type::eof();
      got += static_cast<size_t>(r);
    }
    Cipher(spool_.key_, spool_.nonce_, next).apply(encrypted_.data(), buffer_.data(), n);
    start_ = next;
    setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
    return traits_type::to_int_type(*gptr());
  }

  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode) override {
    const int64_t current = start_ + (gptr() - eback());
    const int64_t base = dir == std::ios_base::beg   ? 0
                         : dir == std::ios_base::cur ? current
                                                     : spool_.size_;
    return seekpos(pos_type(off_type(base + off)), std::ios_base::in);
  }

  pos_type seekpos(pos_type pos, std::ios_base::openmode) override {
    const int64_t target = static_cast<int64_t>(off_type(pos));
    if (target < 0 || target > spool_.size_) return pos_type(off_type(-1));
    if (target >= start_ && target <= start_ + (egptr() - eback())) {
      setg(eback(), eback() + (target - start_), egptr());
    } else {
      start_ = target;
      setg(buffer_.data(), buffer_.data(), buffer_.data());
    }
    return pos;
  }

 private:
  const SpoolFile& spool_;
  std::vector<char> buffer_;
  std::vector<char> encrypted_;
  int64_t start_ = 0;  // body offset of buffer_[0]
};

StatusOr<std::unique_ptr<SpoolFile>> SpoolFile::create(const std::string& dir) {
  std::string path = dir + "/upload-XXXXXX";
  int fd = ::mkstemp(path.data());  // O_EXCL, mode 0600
  if (fd < 0) {
    return Status::io(dir, std::string("cannot create an upload spool file: ") +
                               std::strerror(errno) + "; check that data.dir is writable");
  }
  return std::unique_ptr<SpoolFile>(new SpoolFile(std::move(path), fd));
}

SpoolFile::SpoolFile(std::string path, int fd)
    : path_(std::move(path)),
      fd_(fd),
      key_(security::randomBytes(32)),
      nonce_(security::randomBytes(16)),
      writer_(std::make_unique<Cipher>(key_, nonce_, 0)),
      scratch_(1 << 16) {}

SpoolFile::~SpoolFile() {
  reader_.reset();
  decrypting_.reset();
  writer_.reset();
  if (!unlinked_) ::unlink(path_.c_str());
  if (fd_ >= 0) ::close(fd_);
  OPENSSL_cleanse(key_.data(), key_.size());
}

bool SpoolFile::write(const char* data, size_t n) {
  sha_.update(data, n);
  if (head_.size() < kHeadBytes) head_.append(data, std::min(n, kHeadBytes - head_.size()));
  while (n > 0) {
    const size_t chunk = std::min(n, scratch_.size());
    writer_->apply(data, scratch_.data(), chunk);
    size_t done = 0;
    while (done < chunk) {
      ssize_t w = ::write(fd_, scratch_.data() + done, chunk - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        if (w == 0) errno = ENOSPC;
        return false;
      }
      done += static_cast<size_t>(w);
    }
    size_ += static_cast<int64_t>(chunk);
    data += chunk;
    n -= chunk;
  }
  return true;
}

SpoolFile::Copy SpoolFile::copyFrom(std::istream& in, int64_t limit) {
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    auto n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    if (size_ + static_cast<int64_t>(n) > limit) return Copy::kTooLarge;
    if (!write(buffer.data(), n)) return Copy::kFailed;
  }
  return Copy::kDone;
}

bool SpoolFile::finish() {
  // No fsync: the file is scratch space; the pipeline seals what it keeps into the store.
  if (::unlink(path_.c_str()) != 0) return false;
  unlinked_ = true;
  return true;
}

std::istream& SpoolFile::reader() {
  if (!reader_) {
    decrypting_ = std::make_unique<Decrypting>(*this);
    reader_ = std::make_unique<std::istream>(decrypting_.get());
  }
  return *reader_;
}

std::string SpoolFile::sha256Hex() { return Poco::DigestEngine::digestToHex(sha_.digest()); }

}  // namespace labgate::http
