#include "util/json_object.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

namespace labgate::util {
namespace {

TEST(UnknownKey, AllKnownIsNoMessage) {
  EXPECT_EQ(unknownKey(std::vector<std::string>{"a", "b"}, {"a", "b", "c"}, "f.json"),
            std::nullopt);
}

TEST(UnknownKey, OneMessageNamingLocationKeyAndKnownKeys) {
  EXPECT_EQ(unknownKey(std::vector<std::string>{"a", "zz"}, {"c", "a", "b"}, "f.json"),
            std::optional<std::string>("f.json: zz: unknown key; known keys are a, b, c"));
  EXPECT_EQ(unknownKey(std::vector<std::string>{"zz"}, {"a"}, ""),
            std::optional<std::string>("zz: unknown key; known keys are a"));
}

TEST(UnknownKey, ReadsAPocoObject) {
  Poco::JSON::Parser parser;
  auto object =
      parser.parse(R"({"version": 1, "colour": "red"})").extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(unknownKey(*object, {"version"}, "layout.json"),
            std::optional<std::string>("layout.json: colour: unknown key; known keys are version"));
}

}  // namespace
}  // namespace labgate::util
