// Tests for engine/model/status.h: StatusOr holds a value without default-constructing one,
// value() on an error is a misuse that stops a debug build with a message (and throws in a
// release build, never undefined behaviour), and a StatusOr cannot be made from an OK Status.
// That a dropped Status or StatusOr fails the build is checked by the compile tests of
// tests/compile (ctest -R status_dropped).
#include "engine/model/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>

namespace labgate {
namespace {

/// A type without a default constructor: StatusOr must not need one.
struct Reading {
  explicit Reading(int v) : value(v) {}
  int value;
};
static_assert(!std::is_default_constructible_v<Reading>);

StatusOr<Reading> readingOf(int v) {
  if (v < 0) return Status::invalid("reading", "negative");
  return Reading(v);
}

TEST(StatusOr, HoldsATypeWithoutDefaultConstructor) {
  StatusOr<Reading> good = readingOf(7);
  ASSERT_TRUE(good.isOk());
  EXPECT_EQ(good.value().value, 7);
  EXPECT_EQ(good->value, 7);
  EXPECT_TRUE(good.status().isOk());

  StatusOr<Reading> bad = readingOf(-1);
  EXPECT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalid);
  EXPECT_EQ(bad.status().toString(), "reading: negative");
}

TEST(StatusOr, MovesTheValueOut) {
  StatusOr<std::unique_ptr<int>> made = std::make_unique<int>(5);
  ASSERT_TRUE(made.isOk());
  std::unique_ptr<int> taken = std::move(made).value();
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(*taken, 5);
}

#ifndef NDEBUG
TEST(StatusOrDeathTest, ValueOfAnErrorStopsADebugBuildWithTheStatus) {
  StatusOr<Reading> bad = readingOf(-1);
  EXPECT_DEATH((void)bad.value(),
               "StatusOr misuse: value\\(\\) on an error \\(reading: negative\\)");
  EXPECT_DEATH((void)bad->value, "StatusOr misuse: value\\(\\) on an error");
  EXPECT_DEATH((void)std::move(bad).value(), "StatusOr misuse");
}

TEST(StatusOrDeathTest, MadeFromAnOkStatusStopsADebugBuild) {
  EXPECT_DEATH((void)StatusOr<int>(Status::ok()),
               "StatusOr misuse: constructed from an OK Status without a value");
}
#else
TEST(StatusOr, ValueOfAnErrorThrowsInARelease) {
  StatusOr<Reading> bad = readingOf(-1);
  EXPECT_THROW((void)bad.value(), BadStatusOrAccess);
  EXPECT_THROW((void)bad->value, BadStatusOrAccess);
}

TEST(StatusOr, MadeFromAnOkStatusIsAnErrorInARelease) {
  StatusOr<int> odd = Status::ok();
  EXPECT_FALSE(odd.isOk());
  EXPECT_FALSE(odd.status().isOk());
}
#endif

}  // namespace
}  // namespace labgate
