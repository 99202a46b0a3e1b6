// Tests for engine/security/crypto: RFC 4648 encodings, RFC 2202 / RFC 4231 HMAC vectors,
// constant-time comparison, random bytes and tokens.
#include "engine/security/crypto.h"

#include <gtest/gtest.h>

#include <set>

namespace labgate::security {
namespace {

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0x0F]);
  }
  return out;
}

TEST(Base64Url, Rfc4648VectorsWithoutPadding) {
  EXPECT_EQ(base64UrlEncode(""), "");
  EXPECT_EQ(base64UrlEncode("f"), "Zg");
  EXPECT_EQ(base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(base64UrlEncode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64UrlEncode("foobar"), "Zm9vYmFy");
}

TEST(Base64Url, UsesTheUrlSafeAlphabet) {
  // Standard base64 of these bytes is "+/8=".
  EXPECT_EQ(base64UrlEncode(std::string("\xFB\xFF", 2)), "-_8");
}

// RFC 4648 §10, with the padding this encoder leaves off.
struct Base32Vector {
  const char* plain;
  const char* padded;
};
constexpr Base32Vector kBase32Vectors[] = {
    {"", ""},
    {"f", "MY======"},
    {"fo", "MZXQ===="},
    {"foo", "MZXW6==="},
    {"foob", "MZXW6YQ="},
    {"fooba", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI======"},
};

TEST(Base32, Rfc4648VectorsEncode) {
  for (const auto& v : kBase32Vectors) {
    std::string expected = v.padded;
    expected.erase(expected.find_last_not_of('=') + 1);
    EXPECT_EQ(base32Encode(v.plain), expected) << v.plain;
  }
}

TEST(Base32, Rfc4648VectorsDecodeWithAndWithoutPadding) {
  for (const auto& v : kBase32Vectors) {
    EXPECT_EQ(base32Decode(v.padded), std::optional<std::string>(v.plain)) << v.padded;
    EXPECT_EQ(base32Decode(base32Encode(v.plain)), std::optional<std::string>(v.plain));
  }
}

TEST(Base32, DecodeIsCaseInsensitiveAndIgnoresSpaces) {
  EXPECT_EQ(base32Decode("mzxw 6ytb oi"), std::optional<std::string>("foobar"));
  EXPECT_EQ(base32Decode("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"),
            std::optional<std::string>("12345678901234567890"));
}

TEST(Base32, RoundTripsEveryByteValueAndLength) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= bytes.size(); n += 7) {
    const std::string slice = bytes.substr(bytes.size() - n);
    EXPECT_EQ(base32Decode(base32Encode(slice)), std::optional<std::string>(slice)) << n;
  }
  const std::string random = randomBytes(37);
  EXPECT_EQ(base32Decode(base32Encode(random)), std::optional<std::string>(random));
}

TEST(Base32, RefusesInvalidCharactersAndImpossibleLengths) {
  EXPECT_EQ(base32Decode("MZXW1"), std::nullopt);     // '1' is not in the alphabet
  EXPECT_EQ(base32Decode("MZXW8YQ"), std::nullopt);   // nor '8'
  EXPECT_EQ(base32Decode("MZ=XW6"), std::nullopt);    // '=' only at the end
  EXPECT_EQ(base32Decode("MZXW6-YQ"), std::nullopt);  // no separators but spaces
  EXPECT_EQ(base32Decode("M"), std::nullopt);         // 1, 3 or 6 symbols cannot be whole bytes
  EXPECT_EQ(base32Decode("MZX"), std::nullopt);
  EXPECT_EQ(base32Decode("MZXW6Y"), std::nullopt);
  EXPECT_EQ(base32Decode("MZXW6YTBM"), std::nullopt);
}

TEST(Hmac, Rfc2202Sha1) {
  EXPECT_EQ(hex(hmac(HashAlgorithm::kSha1, std::string(20, '\x0b'), "Hi There")),
            "b617318655057264e28bc0b6fb378c8ef146be00");
  EXPECT_EQ(hex(hmac(HashAlgorithm::kSha1, "Jefe", "what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

TEST(Hmac, Rfc4231TestCase1) {
  const std::string key(20, '\x0b');
  EXPECT_EQ(hex(hmac(HashAlgorithm::kSha256, key, "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex(hmac(HashAlgorithm::kSha512, key, "Hi There")),
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
            "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
}

TEST(Hmac, Rfc4231TestCase2) {
  const std::string data = "what do ya want for nothing?";
  EXPECT_EQ(hex(hmac(HashAlgorithm::kSha256, "Jefe", data)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(hmac(HashAlgorithm::kSha512, "Jefe", data)),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
            "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
}

TEST(Hmac, EmptyKeyAndData) {
  // The well-known HMAC-SHA256 of nothing under nothing.
  EXPECT_EQ(hex(hmac(HashAlgorithm::kSha256, "", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(ConstantTimeEquals, ComparesLengthAndBytes) {
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(constantTimeEquals("", "a"));
  EXPECT_TRUE(constantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(RandomBytes, HasTheLengthAskedFor) {
  EXPECT_EQ(randomBytes(0).size(), 0u);
  EXPECT_EQ(randomBytes(1).size(), 1u);
  EXPECT_EQ(randomBytes(1000).size(), 1000u);
  EXPECT_NE(randomBytes(32), randomBytes(32));
}

TEST(NewToken, IsPrefixedAnd256BitsOfBase64Url) {
  const std::string token = newToken("lgs_");
  ASSERT_EQ(token.rfind("lgs_", 0), 0u);
  const std::string body = token.substr(4);
  EXPECT_EQ(body.size(), 43u);  // 32 bytes = 256 bits, unpadded base64
  EXPECT_EQ(
      body.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  EXPECT_EQ(newToken("").size(), 43u);
}

TEST(NewToken, AreDistinct) {
  std::set<std::string> tokens;
  for (int i = 0; i < 1000; ++i) tokens.insert(newToken("lgk_"));
  EXPECT_EQ(tokens.size(), 1000u);
}

TEST(TokenDigest, IsLowerHexSha256) {
  EXPECT_EQ(tokenDigest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(tokenDigest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string token = newToken("lgs_");
  EXPECT_EQ(tokenDigest(token), tokenDigest(token));
  EXPECT_EQ(tokenDigest(token).find(token), std::string::npos);
}

}  // namespace
}  // namespace labgate::security
