// The server's Ed25519 signing key (engine/security/signing_key.h): made once and kept, sealed
// under a key-encryption key when one is given, refused under another one; signatures verify with
// the public key alone and fail for other bytes; a sealed key's text checked and installed as
// backups carry it.
#include "engine/security/signing_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "engine/security/crypto.h"

namespace labgate::security {
namespace {

class SigningKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "lg-sigkey-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static KeyEncryptionKey kek(char fill) {
    return KeyEncryptionKey{std::string(32, fill), std::string(16, fill == 'a' ? '1' : '2')};
  }
  std::string dir_;
};

TEST_F(SigningKeyTest, MadeOnceKeptPrivateAndVerifies) {
  auto first = SigningKey::loadOrCreate(dir_, nullptr);
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/signing-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = SigningKey::loadOrCreate(dir_, nullptr);
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(first.value()->publicPem(), again.value()->publicPem()) << "a second key was made";
  EXPECT_EQ(first.value()->fingerprint().size(), 16u);

  const std::string bytes = "{\"meaning\":\"approved\"}";
  const std::string sig = first.value()->sign(bytes);
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(verifyEd25519(again.value()->publicPem(), bytes, sig).isOk());
  EXPECT_FALSE(verifyEd25519(again.value()->publicPem(), "{\"meaning\":\"rejected\"}", sig).isOk());
  EXPECT_FALSE(verifyEd25519("not a key", bytes, sig).isOk());
}

TEST_F(SigningKeyTest, SealedUnderTheKeyFileAndRefusedUnderAnother) {
  auto plain = SigningKey::loadOrCreate(dir_, nullptr);
  ASSERT_TRUE(plain.isOk());
  const KeyEncryptionKey mine = kek('a');
  auto sealed = SigningKey::loadOrCreate(dir_, &mine);
  ASSERT_TRUE(sealed.isOk()) << sealed.status().toString();
  EXPECT_EQ(plain.value()->publicPem(), sealed.value()->publicPem()) << "the key changed";
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/signing-key.pem")) << "the plain key was kept";
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/signing-key.sealed"));
  auto reopened = SigningKey::loadOrCreate(dir_, &mine);
  ASSERT_TRUE(reopened.isOk());
  EXPECT_EQ(reopened.value()->publicPem(), plain.value()->publicPem());

  const KeyEncryptionKey other = kek('b');
  auto refused = SigningKey::loadOrCreate(dir_, &other);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().location(), "security.key_file");
  auto without = SigningKey::loadOrCreate(dir_, nullptr);
  ASSERT_FALSE(without.isOk()) << "a sealed key was replaced by a new plain one";
  EXPECT_EQ(without.status().location(), "security.key_file");
}

TEST_F(SigningKeyTest, ASealedKeysTextIsCheckedAndInstalledAsBackupsCarryIt) {
  const KeyEncryptionKey mine = kek('a');
  auto made = SigningKey::loadOrCreate(dir_, &mine);
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  EXPECT_TRUE(made.value()->isNew());
  std::ifstream in(dir_ + "/signing-key.sealed", std::ios::binary);
  const std::string sealed((std::istreambuf_iterator<char>(in)), {});
  auto fingerprint = sealedSigningKeyFingerprint(sealed, mine);
  ASSERT_TRUE(fingerprint.isOk()) << fingerprint.status().toString();
  EXPECT_EQ(fingerprint.value(), made.value()->fingerprint());
  EXPECT_FALSE(sealedSigningKeyFingerprint(sealed, kek('b')).isOk()) << "another key file";
  EXPECT_FALSE(sealedSigningKeyFingerprint("not base64!", mine).isOk());
  std::string changed = sealed;
  changed[changed.size() / 2] = changed[changed.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(sealedSigningKeyFingerprint(changed, mine).isOk()) << "a changed byte";

  // Installed into another data directory: the same key, not a new one; never overwritten.
  const std::string other = dir_ + "/restored";
  std::filesystem::create_directory(other);
  ASSERT_TRUE(installSealedSigningKey(other, sealed).isOk());
  struct stat st {};
  ASSERT_EQ(::stat((other + "/signing-key.sealed").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = SigningKey::loadOrCreate(other, &mine);
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  EXPECT_FALSE(loaded.value()->isNew());
  EXPECT_EQ(loaded.value()->publicPem(), made.value()->publicPem());
  EXPECT_FALSE(installSealedSigningKey(other, sealed).isOk()) << "an existing key overwritten";
}

TEST_F(SigningKeyTest, AKeyRotationSealsTheKeyAgainUnderTheNewKeyFile) {
  const KeyEncryptionKey old = kek('a');
  auto first = SigningKey::loadOrCreate(dir_, &old);
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  // security.key_file is the new key, security.previous_key_file the old one.
  const KeyEncryptionKey fresh = kek('b');
  auto rotated = SigningKey::loadOrCreate(dir_, &fresh, &old);
  ASSERT_TRUE(rotated.isOk()) << rotated.status().toString();
  EXPECT_EQ(rotated.value()->publicPem(), first.value()->publicPem()) << "the key changed";
  // Sealed under the new key now: it opens without the previous key file, and no longer with it.
  auto after = SigningKey::loadOrCreate(dir_, &fresh);
  ASSERT_TRUE(after.isOk()) << after.status().toString();
  EXPECT_EQ(after.value()->publicPem(), first.value()->publicPem());
  EXPECT_FALSE(SigningKey::loadOrCreate(dir_, &old).isOk());
  // Neither key: the error names both fingerprints.
  const KeyEncryptionKey third = kek('c');
  auto refused = SigningKey::loadOrCreate(dir_, &third, &old);
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.status().reason().find("nor with security.previous_key_file"),
            std::string::npos)
      << refused.status().toString();
}

TEST(Base64, RoundTripsAndRefusesGarbage) {
  for (const std::string& text : {std::string(), std::string("a"), std::string("ab"),
                                  std::string("abc"), std::string("\0\xff\x10", 3)}) {
    auto back = base64Decode(base64Encode(text));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, text);
  }
  EXPECT_EQ(base64Encode("abcd"), "YWJjZA==");
  EXPECT_FALSE(base64Decode("YWJjZA=").has_value());
  EXPECT_FALSE(base64Decode("YW*jZA==").has_value());
}

}  // namespace
}  // namespace labgate::security
