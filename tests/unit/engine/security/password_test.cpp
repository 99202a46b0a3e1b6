// Tests for engine/security/password: Argon2id PHC hashes (round trip, wrong password, rehash
// when the parameters rise, malformed strings) and the password policy. Low Argon2 parameters
// keep the suite quick under the sanitizers; one test uses the defaults.
#include "engine/security/password.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

namespace labgate::security {
namespace {

const Argon2Params kFast{1024, 1, 1};

TEST(PasswordHasher, HashIsPhcWithTheParameters) {
  const PasswordHasher hasher(kFast);
  const std::string phc = hasher.hash("correct horse battery staple");
  // 16-byte salt and 32-byte hash in unpadded base64: 22 and 43 characters.
  EXPECT_TRUE(std::regex_match(
      phc, std::regex(R"(\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43})")))
      << phc;
  EXPECT_EQ(phc.find("correct horse"), std::string::npos);
}

TEST(PasswordHasher, RoundTrip) {
  const PasswordHasher hasher(kFast);
  const std::string phc = hasher.hash("correct horse battery staple");
  const auto verdict = hasher.verify("correct horse battery staple", phc);
  EXPECT_TRUE(verdict.match);
  EXPECT_FALSE(verdict.needsRehash);
}

TEST(PasswordHasher, SaltMakesEachHashDifferent) {
  const PasswordHasher hasher(kFast);
  EXPECT_NE(hasher.hash("same password here"), hasher.hash("same password here"));
}

TEST(PasswordHasher, WrongPasswordDoesNotMatch) {
  const PasswordHasher hasher(kFast);
  const std::string phc = hasher.hash("correct horse battery staple");
  EXPECT_FALSE(hasher.verify("Correct horse battery staple", phc).match);
  EXPECT_FALSE(hasher.verify("correct horse battery stapl", phc).match);
  EXPECT_FALSE(hasher.verify("", phc).match);
  EXPECT_FALSE(hasher.verify("correct horse battery staple", hasher.hash("other")).match);
}

TEST(PasswordHasher, EmptyAndNonAsciiPasswordsWork) {
  const PasswordHasher hasher(kFast);
  EXPECT_TRUE(hasher.verify("", hasher.hash("")).match);
  const std::string utf8 = "Grüße aus dem Labor – ÄÖÜ";
  EXPECT_TRUE(hasher.verify(utf8, hasher.hash(utf8)).match);
  EXPECT_FALSE(hasher.verify("Grüsse aus dem Labor – ÄÖÜ", hasher.hash(utf8)).match);
}

TEST(PasswordHasher, NeedsRehashWhenTheParametersRise) {
  const std::string phc = PasswordHasher(kFast).hash("correct horse battery staple");
  for (const Argon2Params& stronger :
       {Argon2Params{2048, 1, 1}, Argon2Params{1024, 2, 1}, Argon2Params{1024, 1, 2}}) {
    const auto verdict = PasswordHasher(stronger).verify("correct horse battery staple", phc);
    EXPECT_TRUE(verdict.match);
    EXPECT_TRUE(verdict.needsRehash);
  }
  // A stored hash stronger than the current setting is left alone.
  const auto verdict =
      PasswordHasher(Argon2Params{512, 1, 1}).verify("correct horse battery staple", phc);
  EXPECT_TRUE(verdict.match);
  EXPECT_FALSE(verdict.needsRehash);
  // Only a match is worth rehashing.
  EXPECT_FALSE(PasswordHasher(Argon2Params{2048, 1, 1}).verify("wrong", phc).needsRehash);
}

TEST(PasswordHasher, MalformedStoredStringIsNoMatch) {
  const PasswordHasher hasher(kFast);
  const std::string good = hasher.hash("secret words here");
  const std::string saltAndHash = good.substr(good.find('$', good.find("p=")));
  const std::vector<std::string> malformed = {
      "",
      "not a hash",
      "$argon2id$",
      "$argon2id$v=19$m=1024,t=1,p=1$",
      good.substr(0, good.size() - 5),
      good + "$extra",
      "$argon2i$v=19$m=1024,t=1,p=1" + saltAndHash,
      "$argon2d$v=19$m=1024,t=1,p=1" + saltAndHash,
      "$argon2id$v=19$m=abc,t=1,p=1" + saltAndHash,
      "$argon2id$v=19$m=1024,t=1" + saltAndHash,
      "$argon2id$v=19$t=1,m=1024,p=1" + saltAndHash,
      "$argon2id$v=19$m=99999999999,t=1,p=1" + saltAndHash,
      "$argon2id$v=19$m=1024,t=1,p=1$!!!$???",
      "$argon2id$m=1024,t=1,p=1" + saltAndHash,
  };
  for (const std::string& phc : malformed) {
    PasswordHasher::Verdict verdict;
    EXPECT_NO_THROW(verdict = hasher.verify("secret words here", phc)) << phc;
    EXPECT_FALSE(verdict.match) << phc;
    EXPECT_FALSE(verdict.needsRehash) << phc;
  }
  // Changing a parameter changes the hash it would compute: no match, not a crash.
  std::string tampered = good;
  tampered.replace(tampered.find("m=1024"), 6, "m=2048");
  EXPECT_FALSE(hasher.verify("secret words here", tampered).match);
  EXPECT_TRUE(hasher.verify("secret words here", good).match);
}

TEST(PasswordHasher, BurnDoesNotThrow) {
  const PasswordHasher hasher(kFast);
  EXPECT_NO_THROW(hasher.burn("any password at all"));
  EXPECT_NO_THROW(hasher.burn(""));
}

TEST(PasswordHasher, DefaultsAreTheOwaspMinimum) {
  const PasswordHasher hasher;
  EXPECT_EQ(hasher.params().memoryKib, 19456u);
  EXPECT_EQ(hasher.params().iterations, 2u);
  EXPECT_EQ(hasher.params().parallelism, 1u);
  const std::string phc = hasher.hash("correct horse battery staple");
  EXPECT_EQ(phc.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << phc;
  EXPECT_TRUE(hasher.verify("correct horse battery staple", phc).match);
}

// --- policy ---

PasswordPolicy builtIn(size_t minLength = 12) {
  auto policy = PasswordPolicy::load(minLength, "");
  EXPECT_TRUE(policy.isOk()) << policy.status().toString();
  return policy.value();
}

/// Refused with Status::invalid("password", ...) and a reason that does not repeat it.
void expectRefused(const PasswordPolicy& policy, const std::string& password,
                   const std::string& reasonPart, std::string_view user = "",
                   std::string_view org = "") {
  const Status s = policy.check(password, user, org);
  ASSERT_FALSE(s.isOk()) << password;
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_EQ(s.location(), "password");
  EXPECT_NE(s.reason().find(reasonPart), std::string::npos) << s.reason();
  EXPECT_EQ(s.toString().find(password), std::string::npos) << s.toString();
}

TEST(PasswordPolicy, AcceptsALongUncommonPassword) {
  const auto policy = builtIn();
  EXPECT_TRUE(policy.check("violet kettle harbour drum", "alice", "stmarys").isOk());
  EXPECT_TRUE(policy.check("exactly12chr", "", "").isOk());
}

TEST(PasswordPolicy, LengthIsCountedInCodePoints) {
  const auto policy = builtIn();
  expectRefused(policy, "short", "at least 12");
  expectRefused(policy, "elevenchars", "at least 12");
  // 11 code points in 22 bytes: too short, however many bytes.
  expectRefused(policy, "äöüßéèêëàâî", "at least 12");
  EXPECT_TRUE(policy.check("äöüßéèêëàâîç", "", "").isOk());
  EXPECT_TRUE(policy.check("🔬🧪🧫🧬🔬🧪🧫🧬🔬🧪🧫🧬", "", "").isOk());
}

TEST(PasswordPolicy, MaximumLength) {
  const auto policy = builtIn();
  std::string longest;
  for (size_t i = 0; i < 256; ++i) longest.push_back(static_cast<char>('a' + i % 26));
  EXPECT_TRUE(policy.check(longest, "", "").isOk());
  expectRefused(policy, longest + "x", "at most 256");
}

TEST(PasswordPolicy, RefusesOneRepeatedCharacter) {
  const auto policy = builtIn();
  expectRefused(policy, "aaaaaaaaaaaaaaaa", "repeated");
  expectRefused(policy, "€€€€€€€€€€€€", "repeated");
  EXPECT_TRUE(policy.check("aaaaaaaaaaaaaaab", "", "").isOk());
}

TEST(PasswordPolicy, RefusesTheBuiltInListCaseInsensitively) {
  const auto policy = builtIn();
  expectRefused(policy, "password1234", "common");
  expectRefused(policy, "PassWord1234", "common");
  expectRefused(policy, "qwertyuiop123", "common");
  expectRefused(policy, "123456789012", "common");
  expectRefused(policy, "administrator", "common");
  // The whole password must match, not a part of it.
  EXPECT_TRUE(policy.check("password1234 and then some", "", "").isOk());
  // With a lower minimum the short favourites are refused by the list, not by length.
  const auto lax = builtIn(6);
  expectRefused(lax, "letmein", "common");
  expectRefused(lax, "QWERTY", "common");
}

TEST(PasswordPolicy, RefusesTheUsernameAndOrganisation) {
  const auto policy = builtIn();
  expectRefused(policy, "alice-in-the-lab", "username", "alice", "stmarys");
  expectRefused(policy, "ALICE", "at least", "alice", "");  // too short first
  expectRefused(policy, "AliceAliceAlice", "username", "alice", "");
  expectRefused(policy, "welcome to StMarys lab", "organisation", "alice", "stmarys");
  // Names under three characters are not held against the password.
  EXPECT_TRUE(policy.check("jo likes long passwords", "jo", "ab").isOk());
  EXPECT_TRUE(policy.check("a long enough passphrase", "", "").isOk());
}

class PolicyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ =
        std::filesystem::temp_directory_path() /
        ("labgate-blocklist-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".txt");
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void write(const std::string& text) { std::ofstream(path_, std::ios::binary) << text; }
  std::filesystem::path path_;
};

TEST_F(PolicyFile, AddsTrimmedLowerCaseLinesToTheBuiltInList) {
  write(
      "\xEF\xBB\xBF# site list\n"
      "\n"
      "   \n"
      "  Tr0ub4dor&3Horse  \r\n"
      "CorrectHorseBatteryStaple\n"
      "  # an indented comment\n"
      "last line without newline");
  const auto loaded = PasswordPolicy::load(14, path_.string());
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  const PasswordPolicy& policy = loaded.value();
  EXPECT_EQ(policy.minLength, 14u);
  EXPECT_EQ(policy.blocklist.count("tr0ub4dor&3horse"), 1u);
  EXPECT_EQ(policy.blocklist.count("correcthorsebatterystaple"), 1u);
  EXPECT_EQ(policy.blocklist.count("last line without newline"), 1u);
  EXPECT_EQ(policy.blocklist.count("# site list"), 0u);
  EXPECT_EQ(policy.blocklist.count(""), 0u);
  expectRefused(policy, "TR0UB4DOR&3HORSE", "common");
  expectRefused(policy, "correcthorsebatterystaple", "common");
  expectRefused(policy, "password123456", "common");  // the built-in list still applies
}

TEST_F(PolicyFile, UnreadableFileIsAConfigError) {
  const auto missing = PasswordPolicy::load(12, path_.string());
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().code(), Status::Code::kConfig);
  EXPECT_EQ(missing.status().location(), path_.string());

  const auto directory = PasswordPolicy::load(12, std::filesystem::temp_directory_path().string());
  ASSERT_FALSE(directory.isOk());
  EXPECT_EQ(directory.status().code(), Status::Code::kConfig);
}

TEST(PasswordPolicy, RefusesWellKnownPassphrasesWhateverTheCaseAndSpacing) {
  const auto loaded = PasswordPolicy::load(12, "");
  ASSERT_TRUE(loaded.isOk());
  const PasswordPolicy& policy = loaded.value();
  for (const char* p :
       {"correcthorsebatterystaple", "CorrectHorseBatteryStaple", "correct horse battery staple",
        "Correct-Horse-Battery-Staple", "correct_horse.battery staple", "Pass Word 1234",
        "P-A-S-S-W-O-R-D-1-2-3-4"}) {
    expectRefused(policy, p, "common");
  }
  EXPECT_TRUE(policy.check("Correct horse battery Zebra-41", "alice", "lab").isOk());
}

TEST(PasswordPolicy, TheShippedListLoads) {
  const std::string path = std::string(LABGATE_SOURCE_DIR) + "/config/common-passwords.txt";
  const auto loaded = PasswordPolicy::load(12, path);
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  const PasswordPolicy& policy = loaded.value();
  EXPECT_GE(policy.blocklist.size(), 200u);
  for (const std::string& entry : policy.blocklist) {
    EXPECT_NE(entry.front(), '#');
    EXPECT_EQ(entry, std::string(entry.c_str())) << "no stray bytes";
    EXPECT_EQ(entry.find_first_of(" \t\r"), std::string::npos) << entry;
  }
  expectRefused(policy, "qwertyuiop123", "common");
  expectRefused(policy, "Password12345", "common");
}

}  // namespace
}  // namespace labgate::security
