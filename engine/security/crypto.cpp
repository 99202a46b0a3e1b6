// Placeholder: the OpenSSL-backed implementation follows in the next commit.
#include "engine/security/crypto.h"

#include <stdexcept>

namespace labgate::security {

std::string randomBytes(size_t) { throw std::runtime_error("not implemented"); }
std::string base64UrlEncode(std::string_view) { return {}; }
std::string base32Encode(std::string_view) { return {}; }
std::optional<std::string> base32Decode(std::string_view) { return std::nullopt; }
bool constantTimeEquals(std::string_view, std::string_view) { return false; }
std::string hmac(HashAlgorithm, std::string_view, std::string_view) { return {}; }
std::string newToken(std::string_view) { throw std::runtime_error("not implemented"); }
std::string tokenDigest(std::string_view) { return {}; }

}  // namespace labgate::security
