// The one ISO-8601 parser and formatter for times (API query parameters, stored timestamps,
// session and key expiry). Written without a date library so that what is accepted is exactly
// what is written here.
//
// Accepted (and nothing else):
//   YYYY-MM-DD                                  midnight UTC of that day
//   YYYY-MM-DDThh:mm[:ss[.f]][Z|+hh:mm|-hh:mm]   f is 1 to 9 digits (read to the millisecond,
//                                               truncated); without a zone the time is UTC
// The fields must be in range (month 01-12, the day within its month, leap years counted, hour
// 00-23, minute and second 00-59, offset hours 00-23 and minutes 00-59). Refused: a space or a
// lower-case 't' or 'z', basic (no-dash) forms, week and ordinal dates, a 24:00 hour, leap
// seconds, a fraction without digits, a zone after a date alone, and anything before or after.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace labgate::util {

/// Milliseconds since the Unix epoch (UTC) of `text`, or nullopt when `text` is not one of the
/// accepted forms above.
std::optional<int64_t> parseIso8601(std::string_view text);

/// `unixMillis` as YYYY-MM-DDThh:mm:ss.mmmZ (UTC, always milliseconds), which sorts as text and
/// which parseIso8601 reads back to the same value.
std::string formatIso8601(int64_t unixMillis);

/// formatIso8601 of the system clock's current time.
std::string isoNow();

}  // namespace labgate::util
