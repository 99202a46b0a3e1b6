// Time-based one-time passwords, RFC 6238 over RFC 4226 HOTP: T0 = Unix epoch, X = 30 s, HMAC-SHA-1
// by default (SHA-256 and SHA-512 allowed), 6 digits. A code is accepted for the current step or
// the one before (network delay, RFC 6238 §5.2) and only once: a step at or before the last one
// used is refused (replay).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/security/crypto.h"

namespace labgate::security {

struct TotpParams {
  HashAlgorithm algorithm = HashAlgorithm::kSha1;
  int digits = 6;
  int periodSeconds = 30;
};

/// A new shared secret: 20 random bytes (160 bits, RFC 4226's recommendation), raw.
std::string newTotpSecret();

/// HOTP (RFC 4226 §5.3 dynamic truncation) of `counter` under `key`, zero-padded to `digits`.
std::string hotp(std::string_view key, uint64_t counter, const TotpParams& params = {});

/// The time step of `unixSeconds` (floor(t / period)).
int64_t totpStep(int64_t unixSeconds, const TotpParams& params = {});

/// The TOTP code at `unixSeconds`.
std::string totpAt(std::string_view key, int64_t unixSeconds, const TotpParams& params = {});

/// The step `code` matches — the current step or the one before — provided it is later than
/// `lastUsedStep`; nullopt when refused (wrong, malformed, too old or replayed). Compared in
/// constant time.
std::optional<int64_t> totpVerify(std::string_view key, std::string_view code, int64_t unixSeconds,
                                  int64_t lastUsedStep, const TotpParams& params = {});

/// otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30,
/// issuer and account percent-encoded (Google Authenticator key-uri format).
std::string totpProvisioningUri(std::string_view issuer, std::string_view account,
                                std::string_view key, const TotpParams& params = {});

}  // namespace labgate::security
