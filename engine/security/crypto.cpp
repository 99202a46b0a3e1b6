// OpenSSL 3 behind the small helpers of crypto.h. The encoders are written out here rather than
// taken from OpenSSL's BIO/EVP_Encode machinery because that one knows only padded, standard
// base64 and nothing of base32; each is a few lines.
#include "engine/security/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>

namespace labgate::security {
namespace {

constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The 5-bit value of a base32 character (either case), or -1.
int base32Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

const EVP_MD* digestFor(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha1:
      return EVP_sha1();
    case HashAlgorithm::kSha256:
      return EVP_sha256();
    case HashAlgorithm::kSha512:
      return EVP_sha512();
  }
  throw std::invalid_argument("unknown hash algorithm");
}

const unsigned char* bytesOf(std::string_view s) {
  // OpenSSL 3.0's HMAC() refuses a null key even with length 0, and an empty string_view may
  // well have a null data(); point at a real (empty) buffer instead.
  static const unsigned char kEmpty[1] = {0};
  return s.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string randomBytes(size_t n) {
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    // RAND_bytes takes an int; larger requests go in chunks.
    const int chunk = static_cast<int>(std::min<size_t>(n - done, INT_MAX));
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done), chunk) != 1) {
      throw std::runtime_error("the random number generator failed (RAND_bytes)");
    }
    done += static_cast<size_t>(chunk);
  }
  return out;
}

std::string base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kBase64UrlAlphabet[(buffer >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kBase64UrlAlphabet[(buffer << (6 - bits)) & 0x3F]);
  return out;
}

std::string base32Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Alphabet[(buffer >> bits) & 0x1F]);
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1F]);
  return out;
}

std::optional<std::string> base32Decode(std::string_view text) {
  std::string symbols;
  symbols.reserve(text.size());
  for (char c : text) {
    if (c != ' ') symbols.push_back(c);
  }
  while (!symbols.empty() && symbols.back() == '=') symbols.pop_back();
  // Every 8 symbols carry 5 bytes; a tail of 1, 3 or 6 symbols cannot come from whole bytes.
  const size_t tail = symbols.size() % 8;
  if (tail == 1 || tail == 3 || tail == 6) return std::nullopt;

  std::string out;
  out.reserve(symbols.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : symbols) {
    const int value = base32Value(c);
    if (value < 0) return std::nullopt;  // includes a '=' that is not trailing
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hmac(HashAlgorithm algorithm, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (key.size() > INT_MAX || HMAC(digestFor(algorithm), bytesOf(key), static_cast<int>(key.size()),
                                   bytesOf(data), data.size(), out, &length) == nullptr) {
    throw std::runtime_error("HMAC failed");
  }
  return std::string(reinterpret_cast<const char*>(out), length);
}

std::string newToken(std::string_view prefix) {
  std::string token(prefix);
  token += base64UrlEncode(randomBytes(32));
  return token;
}

std::string tokenDigest(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytesOf(bytes), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0F]);
  }
  return hex;
}

}  // namespace labgate::security
