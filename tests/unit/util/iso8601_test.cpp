#include "util/iso8601.h"

#include <gtest/gtest.h>

namespace labgate::util {
namespace {

constexpr int64_t kAt = 1795478400000;  // 2026-11-24T00:00:00Z

TEST(Iso8601, AcceptedForms) {
  EXPECT_EQ(parseIso8601("2026-11-24"), kAt);
  EXPECT_EQ(parseIso8601("2026-11-24T08:00Z"), kAt + 8 * 3600000);
  EXPECT_EQ(parseIso8601("2026-11-24T08:00:00Z"), kAt + 8 * 3600000);
  EXPECT_EQ(parseIso8601("2026-11-24T08:00:00"), kAt + 8 * 3600000);
  EXPECT_EQ(parseIso8601("2026-11-24T08:00:00.5Z"), kAt + 8 * 3600000 + 500);
  EXPECT_EQ(parseIso8601("2026-11-24T08:00:00.123456789Z"), kAt + 8 * 3600000 + 123);
  EXPECT_EQ(parseIso8601("2026-11-24T09:30:00+01:30"), kAt + 8 * 3600000);
  EXPECT_EQ(parseIso8601("2026-11-24T06:00:00-02:00"), kAt + 8 * 3600000);
  EXPECT_EQ(parseIso8601("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(parseIso8601("2024-02-29"), 1709164800000);
}

TEST(Iso8601, RefusedForms) {
  for (const char* text : {"",
                           "notadate",
                           "2026-11-24 08:00:00Z",
                           "2026-11-24t08:00:00z",
                           "20261124T080000Z",
                           "2026-13-01",
                           "2026-02-29",
                           "2026-04-31",
                           "2026-11-24T24:00:00Z",
                           "2026-11-24T08:60:00Z",
                           "2026-11-24T08:00:60Z",
                           "2026-11-24T08:00:00.Z",
                           "2026-11-24T08:00:00.1234567890Z",
                           "2026-11-24T08:00:00+0100",
                           "2026-11-24T08:00:00+01",
                           "2026-11-24Z",
                           "2026-11-24T08",
                           "2026-11-24T08:00:00Zx",
                           " 2026-11-24",
                           "2026-11-24T08:00:00+24:00",
                           "2026-W48-2",
                           "2026-328",
                           "+2026-11-24"}) {
    EXPECT_EQ(parseIso8601(text), std::nullopt) << text;
  }
}

TEST(Iso8601, FormatIsUtcWithMillisecondsAndReadsBack) {
  EXPECT_EQ(formatIso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatIso8601(kAt + 8 * 3600000 + 7), "2026-11-24T08:00:00.007Z");
  EXPECT_EQ(formatIso8601(-1), "1969-12-31T23:59:59.999Z");
  for (int64_t at : {int64_t{0}, kAt, kAt + 86399999, int64_t{951782400123}}) {
    EXPECT_EQ(parseIso8601(formatIso8601(at)), at);
  }
  EXPECT_EQ(isoNow().size(), 24u);
  EXPECT_TRUE(parseIso8601(isoNow()).has_value());
}

}  // namespace
}  // namespace labgate::util
