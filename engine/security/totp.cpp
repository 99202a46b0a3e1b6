// RFC 4226 HOTP and RFC 6238 TOTP on the HMAC of crypto.cpp. Parameters outside what the RFCs
// and authenticator apps support (digits 6..8, a positive period) are a programming or
// configuration error and throw std::invalid_argument; a wrong or malformed code never throws.
#include "engine/security/totp.h"

#include <Poco/URI.h>

#include <stdexcept>

namespace labgate::security {
namespace {

// What RFC 3986 reserves, plus space: an issuer or account may contain any of them, and a ':'
// left in either would split the label in the wrong place.
constexpr const char* kUriReserved = ":/?#[]@!$&'()*+,;= ";

void checkParams(const TotpParams& params) {
  if (params.digits < 6 || params.digits > 8) {
    throw std::invalid_argument("TOTP digits must be 6, 7 or 8");
  }
  if (params.periodSeconds <= 0) throw std::invalid_argument("TOTP period must be positive");
}

const char* algorithmName(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha1:
      return "SHA1";
    case HashAlgorithm::kSha256:
      return "SHA256";
    case HashAlgorithm::kSha512:
      return "SHA512";
  }
  return "SHA1";
}

std::string percentEncode(std::string_view text) {
  std::string out;
  Poco::URI::encode(std::string(text), kUriReserved, out);
  return out;
}

}  // namespace

std::string newTotpSecret() { return randomBytes(20); }

std::string hotp(std::string_view key, uint64_t counter, const TotpParams& params) {
  checkParams(params);
  std::string message(8, '\0');
  for (int i = 7; i >= 0; --i) {
    message[static_cast<size_t>(i)] = static_cast<char>(counter & 0xFF);
    counter >>= 8;
  }
  const std::string mac = hmac(params.algorithm, key, message);

  // RFC 4226 §5.3: the low nibble of the last byte picks four bytes; their top bit is dropped so
  // the value reads the same signed or unsigned.
  const size_t offset = static_cast<unsigned char>(mac.back()) & 0x0F;
  const auto byteAt = [&mac, offset](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + i]));
  };
  const uint32_t binary =
      ((byteAt(0) & 0x7F) << 24) | (byteAt(1) << 16) | (byteAt(2) << 8) | byteAt(3);

  uint32_t modulus = 1;
  for (int i = 0; i < params.digits; ++i) modulus *= 10;
  std::string code = std::to_string(binary % modulus);
  code.insert(0, static_cast<size_t>(params.digits) - code.size(), '0');
  return code;
}

int64_t totpStep(int64_t unixSeconds, const TotpParams& params) {
  checkParams(params);
  const int64_t period = params.periodSeconds;
  // Floor, not truncation: a time before the epoch belongs to a negative step.
  int64_t step = unixSeconds / period;
  if (unixSeconds % period != 0 && unixSeconds < 0) --step;
  return step;
}

std::string totpAt(std::string_view key, int64_t unixSeconds, const TotpParams& params) {
  return hotp(key, static_cast<uint64_t>(totpStep(unixSeconds, params)), params);
}

std::optional<int64_t> totpVerify(std::string_view key, std::string_view code, int64_t unixSeconds,
                                  int64_t lastUsedStep, const TotpParams& params) {
  const int64_t current = totpStep(unixSeconds, params);
  if (code.size() != static_cast<size_t>(params.digits)) return std::nullopt;
  for (char c : code) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  // The current step first, then the one before it (a code typed just as the step turned).
  for (int64_t step : {current, current - 1}) {
    if (step < 0 || step <= lastUsedStep) continue;
    if (constantTimeEquals(hotp(key, static_cast<uint64_t>(step), params), code)) return step;
  }
  return std::nullopt;
}

std::string totpProvisioningUri(std::string_view issuer, std::string_view account,
                                std::string_view key, const TotpParams& params) {
  checkParams(params);
  std::string uri = "otpauth://totp/";
  if (!issuer.empty()) uri += percentEncode(issuer) + ":";
  uri += percentEncode(account);
  uri += "?secret=" + base32Encode(key);
  if (!issuer.empty()) uri += "&issuer=" + percentEncode(issuer);
  uri += "&algorithm=";
  uri += algorithmName(params.algorithm);
  uri += "&digits=" + std::to_string(params.digits);
  uri += "&period=" + std::to_string(params.periodSeconds);
  return uri;
}

}  // namespace labgate::security
