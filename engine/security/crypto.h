// Small cryptographic helpers on OpenSSL 3: CSPRNG bytes, encodings, HMAC, constant-time compare
// and the random tokens LabGate hands out (sessions, CSRF, API keys). No secret passed to these
// functions is ever logged or put in an exception message.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace labgate::security {

/// `n` bytes from OpenSSL's CSPRNG (RAND_bytes). Throws std::runtime_error if the generator fails.
std::string randomBytes(size_t n);

/// RFC 4648 §5 base64url without padding.
std::string base64UrlEncode(std::string_view bytes);

/// RFC 4648 §6 base32 (A-Z2-7), upper case, without padding (what authenticator apps expect).
std::string base32Encode(std::string_view bytes);
/// Decodes base32; case-insensitive, spaces and trailing '=' ignored. nullopt on any other
/// character or an impossible length.
std::optional<std::string> base32Decode(std::string_view text);

/// Equal length and equal bytes, in time that depends only on the length (CRYPTO_memcmp).
bool constantTimeEquals(std::string_view a, std::string_view b);

enum class HashAlgorithm { kSha1, kSha256, kSha512 };
/// Raw HMAC of `data` under `key`.
std::string hmac(HashAlgorithm algorithm, std::string_view key, std::string_view data);

/// A new bearer secret: `prefix` followed by base64url of 32 random bytes (256 bits),
/// e.g. "lgs_…" for sessions, "lgk_…" for API keys, "lgc_…" for CSRF tokens.
std::string newToken(std::string_view prefix);

/// Lower-case hex SHA-256 of `bytes` (how tokens and keys are stored: never in clear).
std::string tokenDigest(std::string_view bytes);

}  // namespace labgate::security
