// Log line formats of labgated (log.format): the text pattern and JSON lines. A JSON line is one
// object per event with time (UTC, ISO-8601 with milliseconds), level, logger and message, each a
// properly escaped JSON string, so that a log shipper can read the file without a parser of our
// text format. Invalid UTF-8 in a message becomes U+FFFD: every line is valid JSON.
//
// Thread-safety: format() is const in effect and may be called from any thread.
#pragma once

#include <Poco/Formatter.h>
#include <Poco/Message.h>
#include <Poco/PatternFormatter.h>

#include <string>

#include "engine/model/json_text.h"

namespace labgate {

/// "2026-11-24T04:12:00.123Z information engine: text".
inline constexpr const char* kTextLogPattern = "%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t";

/// log.format = text: kTextLogPattern, the level printed as the word log.level takes and the JSON
/// lines show ("information", "warning"), not POCO's capitalised names.
class TextLineFormatter : public Poco::PatternFormatter {
 public:
  TextLineFormatter();
};

class JsonLineFormatter : public Poco::Formatter {
 public:
  /// {"time":"...","level":"information","logger":"engine","message":"..."} (no newline: the
  /// channel ends the line).
  void format(const Poco::Message& message, std::string& text) override;
};

/// `text` as a JSON string literal (engine/model/json_text.h: invalid UTF-8 becomes \ufffd).
inline std::string jsonLogString(const std::string& text) { return jsonQuote(text); }

/// Poco's priority as the level word of log.level ("information", "debug", ...).
const char* levelName(Poco::Message::Priority priority);

}  // namespace labgate
