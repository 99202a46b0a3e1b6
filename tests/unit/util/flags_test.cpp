#include "util/flags.h"

#include <gtest/gtest.h>

namespace labgate::util {
namespace {

TEST(FlagWord, YesWords) {
  for (const char* word : {"true", "TRUE", "Yes", "y", "1", "x", "manual", "Manual", "M", "MM",
                           "manually integrated", "Manually_Integrated", " yes "}) {
    EXPECT_EQ(flagWord(word), std::optional<bool>(true)) << word;
  }
}

TEST(FlagWord, NoWords) {
  for (const char* word : {"false", "No", "n", "0", "auto", "Automatic", "", "  "}) {
    EXPECT_EQ(flagWord(word), std::optional<bool>(false)) << word;
  }
}

TEST(FlagWord, OtherWordsAreNeither) {
  for (const char* word : {"maybe", "2", "yess", "manual?", "-1"}) {
    EXPECT_EQ(flagWord(word), std::nullopt) << word;
    EXPECT_FALSE(saysYes(word)) << word;
  }
}

TEST(FlagWord, ManualIsAManualIntegration) {
  // The CSV layout read "manual" as an automatic integration and the XML layout as a manual one;
  // both now read it here.
  EXPECT_TRUE(saysYes("manual"));
}

}  // namespace
}  // namespace labgate::util
