// Log line formats (see log_format.h).
#include "engine/service/log_format.h"

#include <Poco/DateTimeFormatter.h>

#include <cstdio>

#include "engine/model/json_text.h"

namespace labgate {
const char* levelName(Poco::Message::Priority priority) {
  switch (priority) {
    case Poco::Message::PRIO_FATAL:
      return "fatal";
    case Poco::Message::PRIO_CRITICAL:
      return "critical";
    case Poco::Message::PRIO_ERROR:
      return "error";
    case Poco::Message::PRIO_WARNING:
      return "warning";
    case Poco::Message::PRIO_NOTICE:
      return "notice";
    case Poco::Message::PRIO_INFORMATION:
      return "information";
    case Poco::Message::PRIO_DEBUG:
      return "debug";
    case Poco::Message::PRIO_TRACE:
      return "trace";
  }
  return "information";
}

TextLineFormatter::TextLineFormatter() : Poco::PatternFormatter(kTextLogPattern) {
  // POCO's priorities 1 (fatal) to 8 (trace), in order.
  std::string names;
  for (int p = Poco::Message::PRIO_FATAL; p <= Poco::Message::PRIO_TRACE; ++p) {
    if (!names.empty()) names += ",";
    names += levelName(static_cast<Poco::Message::Priority>(p));
  }
  setProperty(PROP_PRIORITY_NAMES, names);
}

void JsonLineFormatter::format(const Poco::Message& message, std::string& text) {
  text += "{\"time\":";
  text += jsonQuote(Poco::DateTimeFormatter::format(message.getTime(), "%Y-%m-%dT%H:%M:%S.%iZ"));
  text += ",\"level\":";
  text += jsonQuote(levelName(message.getPriority()));
  text += ",\"logger\":";
  text += jsonQuote(message.getSource());
  text += ",\"message\":";
  text += jsonQuote(message.getText());
  text += '}';
}

}  // namespace labgate
