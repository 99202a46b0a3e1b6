// Tests for engine/service/log_format: the level words of both log formats are the ones
// docs/operations.md shows and log.level takes ("information", not POCO's "Information").
#include "engine/service/log_format.h"

#include <Poco/DateTime.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Message.h>
#include <gtest/gtest.h>

#include <string>

namespace labgate {
namespace {

Poco::Message at(Poco::Message::Priority priority) {
  Poco::Message message("pipeline", "connector lab1: message 12 accepted", priority);
  message.setTime(Poco::DateTime(2026, 11, 24, 4, 12, 0, 123).timestamp());
  return message;
}

TEST(TextLog, LineAsDocsOperationsShowsIt) {
  TextLineFormatter formatter;
  std::string line;
  formatter.format(at(Poco::Message::PRIO_INFORMATION), line);
  EXPECT_EQ(line,
            "2026-11-24T04:12:00.123Z information pipeline: connector lab1: message 12 accepted");
}

TEST(TextLog, EveryLevelPrintsInLowerCaseAsTheJsonLines) {
  const Poco::Message::Priority all[] = {
      Poco::Message::PRIO_FATAL,   Poco::Message::PRIO_CRITICAL, Poco::Message::PRIO_ERROR,
      Poco::Message::PRIO_WARNING, Poco::Message::PRIO_NOTICE,   Poco::Message::PRIO_INFORMATION,
      Poco::Message::PRIO_DEBUG,   Poco::Message::PRIO_TRACE};
  for (Poco::Message::Priority priority : all) {
    TextLineFormatter text;
    std::string line;
    text.format(at(priority), line);
    JsonLineFormatter json;
    std::string object;
    json.format(at(priority), object);
    const std::string word = Poco::JSON::Parser()
                                 .parse(object)
                                 .extract<Poco::JSON::Object::Ptr>()
                                 ->getValue<std::string>("level");
    EXPECT_EQ(word, levelName(priority));
    EXPECT_NE(line.find(" " + word + " pipeline: "), std::string::npos) << line;
  }
  EXPECT_STREQ(levelName(Poco::Message::PRIO_WARNING), "warning");
  EXPECT_STREQ(levelName(Poco::Message::PRIO_FATAL), "fatal");
}

}  // namespace
}  // namespace labgate
