// Tests for engine/security/totp: the RFC 4226 Appendix D HOTP and RFC 6238 Appendix B TOTP
// vectors, the acceptance window, replay refusal and the provisioning URI.
#include "engine/security/totp.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace labgate::security {
namespace {

const std::string kRfcSeed = "12345678901234567890";  // RFC 4226 and RFC 6238's SHA-1 seed
const std::string kSeed32 = "12345678901234567890123456789012";
const std::string kSeed64 = "1234567890123456789012345678901234567890123456789012345678901234";

TEST(Hotp, Rfc4226AppendixD) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t counter = 0; counter < 10; ++counter) {
    EXPECT_EQ(hotp(kRfcSeed, counter), expected[counter]) << "counter " << counter;
  }
}

struct TotpVector {
  int64_t time;
  const char* sha1;
  const char* sha256;
  const char* sha512;
};

// RFC 6238 Appendix B (8 digits, 30-second steps).
constexpr TotpVector kRfc6238[] = {
    {59, "94287082", "46119246", "90693936"},
    {1111111109, "07081804", "68084774", "25091201"},
    {1111111111, "14050471", "67062674", "99943326"},
    {1234567890, "89005924", "91819424", "93441116"},
    {2000000000, "69279037", "90698825", "38618901"},
    {20000000000, "65353130", "77737706", "47863826"},
};

TEST(Totp, Rfc6238AppendixB) {
  const TotpParams sha1{HashAlgorithm::kSha1, 8, 30};
  const TotpParams sha256{HashAlgorithm::kSha256, 8, 30};
  const TotpParams sha512{HashAlgorithm::kSha512, 8, 30};
  for (const auto& v : kRfc6238) {
    EXPECT_EQ(totpAt(kRfcSeed, v.time, sha1), v.sha1) << "SHA1 at " << v.time;
    EXPECT_EQ(totpAt(kSeed32, v.time, sha256), v.sha256) << "SHA256 at " << v.time;
    EXPECT_EQ(totpAt(kSeed64, v.time, sha512), v.sha512) << "SHA512 at " << v.time;
  }
}

TEST(Totp, DefaultsAreSixDigitSha1) {
  // The last six digits of the 8-digit SHA-1 vector: the truncation is modulo 10^digits.
  EXPECT_EQ(totpAt(kRfcSeed, 59), "287082");
  EXPECT_EQ(totpAt(kRfcSeed, 1111111109), "081804");
}

TEST(Totp, StepIsTheFloorOfTimeOverPeriod) {
  EXPECT_EQ(totpStep(0), 0);
  EXPECT_EQ(totpStep(29), 0);
  EXPECT_EQ(totpStep(30), 1);
  EXPECT_EQ(totpStep(59), 1);
  EXPECT_EQ(totpStep(-1), -1);
  EXPECT_EQ(totpStep(-30), -1);
  EXPECT_EQ(totpStep(-31), -2);
  EXPECT_EQ(totpStep(120, TotpParams{HashAlgorithm::kSha1, 6, 60}), 2);
}

TEST(Totp, DigitsOutsideSixToEightAreRefused) {
  EXPECT_THROW(hotp(kRfcSeed, 0, TotpParams{HashAlgorithm::kSha1, 5, 30}), std::invalid_argument);
  EXPECT_THROW(hotp(kRfcSeed, 0, TotpParams{HashAlgorithm::kSha1, 9, 30}), std::invalid_argument);
  EXPECT_THROW(totpStep(0, TotpParams{HashAlgorithm::kSha1, 6, 0}), std::invalid_argument);
  EXPECT_EQ(hotp(kRfcSeed, 0, TotpParams{HashAlgorithm::kSha1, 7, 30}).size(), 7u);
}

constexpr int64_t kNow = 1'700'000'015;  // 15 s into a step

TEST(TotpVerify, AcceptsTheCurrentStep) {
  const std::string code = totpAt(kRfcSeed, kNow);
  EXPECT_EQ(totpVerify(kRfcSeed, code, kNow, 0), totpStep(kNow));
}

TEST(TotpVerify, AcceptsThePreviousStep) {
  const std::string code = totpAt(kRfcSeed, kNow - 30);
  EXPECT_EQ(totpVerify(kRfcSeed, code, kNow, 0), totpStep(kNow) - 1);
}

TEST(TotpVerify, RefusesTwoStepsBackAndTheNextStep) {
  EXPECT_EQ(totpVerify(kRfcSeed, totpAt(kRfcSeed, kNow - 60), kNow, 0), std::nullopt);
  EXPECT_EQ(totpVerify(kRfcSeed, totpAt(kRfcSeed, kNow + 30), kNow, 0), std::nullopt);
}

TEST(TotpVerify, RefusesAReplayedCode) {
  const std::string code = totpAt(kRfcSeed, kNow);
  const auto step = totpVerify(kRfcSeed, code, kNow, 0);
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(totpVerify(kRfcSeed, code, kNow, *step), std::nullopt);
  EXPECT_EQ(totpVerify(kRfcSeed, code, kNow + 10, *step), std::nullopt);
  // Once a step is used, the code of the step before can no longer be used either.
  EXPECT_EQ(totpVerify(kRfcSeed, totpAt(kRfcSeed, kNow - 30), kNow, *step), std::nullopt);
}

TEST(TotpVerify, APreviousStepCodeIsRefusedOnceALaterStepWasUsed) {
  const int64_t current = totpStep(kNow);
  EXPECT_EQ(totpVerify(kRfcSeed, totpAt(kRfcSeed, kNow - 30), kNow, current - 1), std::nullopt);
  EXPECT_EQ(totpVerify(kRfcSeed, totpAt(kRfcSeed, kNow), kNow, current - 1), current);
}

TEST(TotpVerify, RefusesWrongAndMalformedCodes) {
  const std::string code = totpAt(kRfcSeed, kNow);
  std::string wrong = code;
  wrong[0] = wrong[0] == '9' ? '0' : static_cast<char>(wrong[0] + 1);
  EXPECT_EQ(totpVerify(kRfcSeed, wrong, kNow, 0), std::nullopt);
  EXPECT_EQ(totpVerify(kRfcSeed, "", kNow, 0), std::nullopt);
  EXPECT_EQ(totpVerify(kRfcSeed, code.substr(0, 5), kNow, 0), std::nullopt);
  EXPECT_EQ(totpVerify(kRfcSeed, code + "0", kNow, 0), std::nullopt);
  EXPECT_EQ(totpVerify(kRfcSeed, "12a456", kNow, 0), std::nullopt);
  EXPECT_EQ(totpVerify(kRfcSeed, " " + code.substr(1), kNow, 0), std::nullopt);
  EXPECT_EQ(totpVerify("another secret", code, kNow, 0), std::nullopt);
}

TEST(TotpVerify, HonoursTheAlgorithmAndDigits) {
  const TotpParams params{HashAlgorithm::kSha256, 8, 30};
  EXPECT_EQ(totpVerify(kSeed32, "67062674", 1111111111, 0, params), 37037037);
  EXPECT_EQ(totpVerify(kSeed32, "67062674", 1111111111, 0), std::nullopt);
}

TEST(TotpVerify, NoStepBeforeTheEpoch) {
  // At t = 10 the "previous step" would be -1; it does not exist.
  EXPECT_EQ(totpVerify(kRfcSeed, hotp(kRfcSeed, 0), 10, -5), 0);
}

TEST(NewTotpSecret, IsTwentyRandomBytes) {
  const std::string secret = newTotpSecret();
  EXPECT_EQ(secret.size(), 20u);
  EXPECT_NE(secret, newTotpSecret());
}

TEST(ProvisioningUri, FollowsTheKeyUriFormat) {
  EXPECT_EQ(totpProvisioningUri("LabGate", "alice", kRfcSeed),
            "otpauth://totp/LabGate:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "&issuer=LabGate&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(
      totpProvisioningUri("LabGate", "alice", kSeed32, TotpParams{HashAlgorithm::kSha512, 8, 60}),
      "otpauth://totp/LabGate:alice?secret=" + base32Encode(kSeed32) +
          "&issuer=LabGate&algorithm=SHA512&digits=8&period=60");
}

TEST(ProvisioningUri, PercentEncodesIssuerAndAccount) {
  const std::string uri = totpProvisioningUri("St Mary's Lab: Core", "alice@lab.org", kRfcSeed,
                                              TotpParams{HashAlgorithm::kSha256, 6, 30});
  EXPECT_EQ(uri,
            "otpauth://totp/St%20Mary%27s%20Lab%3A%20Core:alice%40lab.org?secret="
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=St%20Mary%27s%20Lab%3A%20Core"
            "&algorithm=SHA256&digits=6&period=30");
  EXPECT_NE(totpProvisioningUri("a&b=c", "x/y?z#", kRfcSeed).find("a%26b%3Dc:x%2Fy%3Fz%23?"),
            std::string::npos);
}

}  // namespace
}  // namespace labgate::security
