// Log lines with format strings checked at compile time: the fmt library formats, a POCO Logger
// writes. Every log call in LabGate goes through these helpers; POCO's printf-like
// `logger.warning("%s", ...)` is not used, because a wrong argument type there prints [ERRFMT]
// in place of the message at run time instead of failing the build.
//
//   logWarning(logger(), "connector {}: frame from {} rejected: {}", name, peer, why);
//
// A format string that does not match its arguments is a compile error (fmt::format_string).
// Braces in the text are written {{ and }}. The message is formatted only when the logger's
// level lets it through.
//
// The same rule as for every log line applies: never a field value of a message in the text.
//
// Thread-safety: as POCO's Logger (safe from any thread).
#pragma once

#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <fmt/format.h>

#include <string>
#include <utility>

namespace labgate {

/// Formats `format` with `args` and logs it at `priority` when `logger` lets that level through.
template <typename... Args>
void logAt(Poco::Logger& logger, Poco::Message::Priority priority,
           fmt::format_string<Args...> format, Args&&... args) {
  if (!logger.is(priority)) return;
  logger.log(
      Poco::Message(logger.name(), fmt::format(format, std::forward<Args>(args)...), priority));
}

template <typename... Args>
void logDebug(Poco::Logger& logger, fmt::format_string<Args...> format, Args&&... args) {
  logAt(logger, Poco::Message::PRIO_DEBUG, format, std::forward<Args>(args)...);
}

template <typename... Args>
void logInfo(Poco::Logger& logger, fmt::format_string<Args...> format, Args&&... args) {
  logAt(logger, Poco::Message::PRIO_INFORMATION, format, std::forward<Args>(args)...);
}

template <typename... Args>
void logNotice(Poco::Logger& logger, fmt::format_string<Args...> format, Args&&... args) {
  logAt(logger, Poco::Message::PRIO_NOTICE, format, std::forward<Args>(args)...);
}

template <typename... Args>
void logWarning(Poco::Logger& logger, fmt::format_string<Args...> format, Args&&... args) {
  logAt(logger, Poco::Message::PRIO_WARNING, format, std::forward<Args>(args)...);
}

template <typename... Args>
void logError(Poco::Logger& logger, fmt::format_string<Args...> format, Args&&... args) {
  logAt(logger, Poco::Message::PRIO_ERROR, format, std::forward<Args>(args)...);
}

}  // namespace labgate
