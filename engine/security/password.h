// Password storage and policy. Hashes are Argon2id (libargon2) in the PHC string format, so the
// parameters live with each hash and can be raised later (verify() says when a stored hash uses
// weaker ones than the current setting). The policy follows OWASP ASVS 5.0 V6.2: a minimum length,
// a generous maximum, no composition rules, and a list of common passwords that are refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

#include "engine/model/status.h"

namespace labgate::security {

/// OWASP Password Storage Cheat Sheet minimum for Argon2id: m = 19 MiB, t = 2, p = 1.
struct Argon2Params {
  uint32_t memoryKib = 19456;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
};

class PasswordHasher {
 public:
  explicit PasswordHasher(Argon2Params params = {});

  /// A PHC string: "$argon2id$v=19$m=19456,t=2,p=1$<salt b64>$<hash b64>", 16-byte random salt,
  /// 32-byte hash. Throws std::runtime_error only if libargon2 fails (out of memory).
  std::string hash(std::string_view password) const;

  struct Verdict {
    bool match = false;
    bool needsRehash = false;  // matched, but the stored parameters are below the current ones
  };
  /// Checks `password` against a stored PHC string. A malformed stored string is no match.
  Verdict verify(std::string_view password, const std::string& phc) const;

  /// Verifies against a fixed hash of a random password and returns false: used when the user
  /// does not exist, so that the answer takes as long as a real check.
  void burn(std::string_view password) const;

  const Argon2Params& params() const { return params_; }

 private:
  Argon2Params params_;
  std::string decoy_;
};

struct PasswordPolicy {
  size_t minLength = 12;
  size_t maxLength = 256;
  std::unordered_set<std::string> blocklist;  // lower-case
  // The same entries without spaces, '-', '_' and '.': a password is refused when its own such
  // form is on either list ("Correct Horse Battery-Staple").
  std::unordered_set<std::string> squashedBlocklist;

  /// The policy with the list read from `blocklistPath` (one password per line, '#' comments,
  /// compared case-insensitively). An empty path means the built-in list only. An unreadable
  /// file is Status::config naming the path.
  static StatusOr<PasswordPolicy> load(size_t minLength, const std::string& blocklistPath);

  /// OK, or Status::invalid("password", reason). The reason never repeats the password. Refuses:
  /// shorter than minLength or longer than maxLength (counted in UTF-8 code points); on the
  /// blocklist (case-insensitively, ignoring spaces, '-', '_' and '.'); equal to (or containing)
  /// the username or the organisation id, case-insensitively; one repeated character.
  Status check(std::string_view password, std::string_view username, std::string_view orgId) const;
};

}  // namespace labgate::security
