// Argon2id hashing through libargon2's encoded (PHC string) API, and the password policy.
// libargon2 parses and checks the PHC string itself on verify; the parameters are read here as
// well only to decide whether a matching hash should be replaced by a stronger one.
#include "engine/security/password.h"

#include <argon2.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <vector>

#include "engine/security/crypto.h"
#include "util/text.h"

namespace labgate::security {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

// The floor under any configured list, refused even when security.password.blocklist is unset:
// common passwords long enough to pass the 12-character default minimum (the short favourites
// fail on length anyway), plus the very commonest short ones for sites that lower the minimum.
constexpr const char* kBuiltInBlocklist[] = {
    "123456",        "123456789",      "12345678",         "password",      "qwerty",
    "12345",         "111111",         "1234567",          "letmein",       "welcome",
    "admin",         "iloveyou",       "abc123",           "monkey",        "dragon",
    "football",      "baseball",       "sunshine",         "princess",      "trustno1",
    "passw0rd",      "p@ssw0rd",       "qwerty123",        "1q2w3e4r",      "123456789012",
    "1234567890123", "12345678901234", "123456789012345",  "1234567890abc", "password1234",
    "password12345", "password123456", "passwordpassword", "qwertyuiop123", "qwertyuiopasdf",
    "qwerty123456",  "1qaz2wsx3edc",   "1q2w3e4r5t6y",     "q1w2e3r4t5y6",  "zaq12wsxcde3",
    "administrator", "administrator1", "iloveyou1234",     "letmein12345",  "welcome12345",
    "welcome123456", "changeme1234",   "abcdefghijkl",     "abcd1234abcd",  "asdfghjkl123",
    "qazwsxedcrfv",  "football1234",   "labgate12345",     "laboratory123",
};

// Passphrases everybody has seen (comics, films, examples in password advice). Like every entry
// they are compared without case, spaces and separators.
constexpr const char* kBuiltInPassphrases[] = {
    "correcthorsebatterystaple",
    "trustnoone123",
    "iloveyouforever",
    "letmeinplease",
    "opensesame123",
    "maytheforcebewithyou",
    "thequickbrownfox",
    "thequickbrownfoxjumpsoverthelazydog",
    "itsasecrettoeverybody",
    "tobeornottobe",
    "thisismypassword",
    "mypasswordispassword",
    "ilovemydog",
    "ilovemycat",
    "iloveyoutoo",
    "iamtheadmin",
    "letmein123456",
    "youshallnotpass",
    "winteriscoming",
    "hellohello123",
    "whatever12345",
    "nopasswordhere",
};

// The form in which passwords and list entries are compared: ASCII lower case, without spaces
// and the separators people put between words ("Correct-Horse battery.staple").
std::string squashed(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '-' || c == '_' || c == '.') continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

// Case folding is ASCII only: the lists are ASCII, and folding other scripts would need locale
// tables for no gain in what is refused.
std::string lowerAscii(std::string_view s) { return util::lowered(s); }

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

/// The UTF-8 code points of `s`, each as its bytes. A continuation byte with no lead byte
/// before it counts as a code point of its own, so malformed input is still counted.
std::vector<std::string_view> codePoints(std::string_view s) {
  std::vector<std::string_view> points;
  size_t start = 0;
  for (size_t i = 1; i <= s.size(); ++i) {
    if (i == s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      points.push_back(s.substr(start, i - start));
      start = i;
    }
  }
  return points;
}

/// Parses an unsigned decimal field such as "19456"; nullopt if empty, not digits or too big.
std::optional<uint32_t> parseNumber(std::string_view digits) {
  if (digits.empty() || digits.size() > 10) return std::nullopt;
  uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(value);
}

struct StoredParams {
  uint32_t version = 0;
  Argon2Params argon2;
};

/// The version and m/t/p of "$argon2id$v=19$m=..,t=..,p=..$salt$hash"; nullopt if the string
/// does not have that shape (libargon2 checks the rest).
std::optional<StoredParams> parsePhc(std::string_view phc) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= phc.size(); ++i) {
    if (i == phc.size() || phc[i] == '$') {
      parts.push_back(phc.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() != 6 || !parts[0].empty() || parts[1] != "argon2id") return std::nullopt;
  if (parts[2].substr(0, 2) != "v=") return std::nullopt;
  StoredParams stored;
  const auto version = parseNumber(parts[2].substr(2));
  if (!version) return std::nullopt;
  stored.version = *version;

  std::string_view fields = parts[3];
  const std::pair<std::string_view, uint32_t*> expected[] = {
      {"m=", &stored.argon2.memoryKib},
      {"t=", &stored.argon2.iterations},
      {"p=", &stored.argon2.parallelism},
  };
  for (size_t i = 0; i < 3; ++i) {
    const size_t comma = i < 2 ? fields.find(',') : fields.size();
    if (comma == std::string_view::npos) return std::nullopt;
    const std::string_view field = fields.substr(0, comma);
    if (field.substr(0, 2) != expected[i].first) return std::nullopt;
    const auto value = parseNumber(field.substr(2));
    if (!value) return std::nullopt;
    *expected[i].second = *value;
    fields.remove_prefix(std::min(fields.size(), comma + 1));
  }
  return stored;
}

}  // namespace

PasswordHasher::PasswordHasher(Argon2Params params) : params_(params) {
  // A hash of a password nobody knows, made with the current parameters so that burn() costs
  // what a real verify costs.
  decoy_ = hash(base64UrlEncode(randomBytes(24)));
}

std::string PasswordHasher::hash(std::string_view password) const {
  const std::string salt = randomBytes(kSaltBytes);
  const size_t length = argon2_encodedlen(params_.iterations, params_.memoryKib,
                                          params_.parallelism, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(length, '\0');
  const int rc =
      argon2id_hash_encoded(params_.iterations, params_.memoryKib, params_.parallelism,
                            password.empty() ? "" : password.data(), password.size(), salt.data(),
                            salt.size(), kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    throw std::runtime_error(std::string("argon2id hashing failed: ") + argon2_error_message(rc));
  }
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

PasswordHasher::Verdict PasswordHasher::verify(std::string_view password,
                                               const std::string& phc) const {
  Verdict verdict;
  const std::optional<StoredParams> stored = parsePhc(phc);
  if (!stored) return verdict;
  verdict.match = argon2id_verify(phc.c_str(), password.empty() ? "" : password.data(),
                                  password.size()) == ARGON2_OK;
  if (verdict.match) {
    verdict.needsRehash = stored->version != ARGON2_VERSION_NUMBER ||
                          stored->argon2.memoryKib < params_.memoryKib ||
                          stored->argon2.iterations < params_.iterations ||
                          stored->argon2.parallelism < params_.parallelism;
  }
  return verdict;
}

void PasswordHasher::burn(std::string_view password) const { (void)verify(password, decoy_); }

StatusOr<PasswordPolicy> PasswordPolicy::load(size_t minLength, const std::string& blocklistPath) {
  PasswordPolicy policy;
  policy.minLength = minLength;
  for (const char* entry : kBuiltInBlocklist) {
    policy.blocklist.insert(entry);
    policy.squashedBlocklist.insert(squashed(entry));
  }
  for (const char* entry : kBuiltInPassphrases) {
    policy.blocklist.insert(entry);
    policy.squashedBlocklist.insert(squashed(entry));
  }
  if (blocklistPath.empty()) return policy;

  std::error_code ignored;
  if (std::filesystem::is_directory(blocklistPath, ignored)) {
    return Status::config(blocklistPath, "the password blocklist is a directory, not a file");
  }
  std::ifstream file(blocklistPath);
  if (!file) {
    return Status::config(
        blocklistPath, std::string("cannot read the password blocklist: ") + std::strerror(errno));
  }
  std::string line;
  bool first = true;
  while (std::getline(file, line)) {
    std::string_view entry = line;
    // Lists saved by Windows editors may start with a byte-order mark.
    if (first && entry.substr(0, 3) == "\xEF\xBB\xBF") entry.remove_prefix(3);
    first = false;
    entry = trim(entry);
    if (entry.empty() || entry.front() == '#') continue;
    policy.blocklist.insert(lowerAscii(entry));
    policy.squashedBlocklist.insert(squashed(entry));
  }
  if (file.bad()) return Status::config(blocklistPath, "reading the password blocklist failed");
  return policy;
}

Status PasswordPolicy::check(std::string_view password, std::string_view username,
                             std::string_view orgId) const {
  const std::vector<std::string_view> points = codePoints(password);
  if (points.size() < minLength) {
    return Status::invalid("password",
                           "must be at least " + std::to_string(minLength) + " characters long");
  }
  if (points.size() > maxLength) {
    return Status::invalid("password",
                           "must be at most " + std::to_string(maxLength) + " characters long");
  }
  if (points.size() > 1 && std::all_of(points.begin(), points.end(),
                                       [&](std::string_view p) { return p == points[0]; })) {
    return Status::invalid("password", "is one character repeated");
  }
  const std::string lowered = lowerAscii(password);
  const std::string folded = squashed(password);
  if (blocklist.count(lowered) != 0 || blocklist.count(folded) != 0 ||
      squashedBlocklist.count(folded) != 0) {
    return Status::invalid("password", "is on the list of commonly used passwords");
  }
  // Names shorter than three characters would refuse half the passwords that happen to
  // contain "jo" or "a1"; they add no guessable structure worth refusing.
  const auto contains = [&lowered](std::string_view name) {
    return codePoints(name).size() >= 3 && lowered.find(lowerAscii(name)) != std::string::npos;
  };
  if (contains(username)) return Status::invalid("password", "must not contain the username");
  if (contains(orgId)) {
    return Status::invalid("password", "must not contain the organisation id");
  }
  return Status::ok();
}

}  // namespace labgate::security
