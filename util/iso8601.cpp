// ISO-8601 times (see iso8601.h).
#include "util/iso8601.h"

#include <chrono>
#include <cstdio>

namespace labgate::util {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month, day;
};

Civil civilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

unsigned daysInMonth(int64_t year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return at_ == text_.size(); }
  bool peek(char c) const { return at_ < text_.size() && text_[at_] == c; }
  bool take(char c) {
    if (!peek(c)) return false;
    ++at_;
    return true;
  }
  bool digit() const { return at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9'; }
  // Exactly n digits into out.
  bool number(size_t n, unsigned& out) {
    out = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!digit()) return false;
      out = out * 10 + static_cast<unsigned>(text_[at_++] - '0');
    }
    return true;
  }

 private:
  std::string_view text_;
  size_t at_ = 0;
};

}  // namespace

std::optional<int64_t> parseIso8601(std::string_view text) {
  Cursor in(text);
  unsigned year = 0, month = 0, day = 0;
  if (!in.number(4, year) || !in.take('-') || !in.number(2, month) || !in.take('-') ||
      !in.number(2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return std::nullopt;
  int64_t millis = daysFromCivil(year, month, day) * 86400000;
  if (in.done()) return millis;
  unsigned hour = 0, minute = 0, second = 0, fraction = 0;
  if (!in.take('T') || !in.number(2, hour) || !in.take(':') || !in.number(2, minute)) {
    return std::nullopt;
  }
  if (in.take(':')) {
    if (!in.number(2, second)) return std::nullopt;
    if (in.take('.')) {
      if (!in.digit()) return std::nullopt;
      unsigned digits = 0;
      unsigned d = 0;
      while (in.digit()) {
        if (++digits > 9) return std::nullopt;
        in.number(1, d);
        if (digits <= 3) fraction = fraction * 10 + d;
      }
      for (; digits < 3; ++digits) fraction *= 10;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  millis += ((int64_t{hour} * 60 + minute) * 60 + second) * 1000 + fraction;
  if (in.done() || in.take('Z')) return in.done() ? std::optional<int64_t>(millis) : std::nullopt;
  int sign = 0;
  if (in.take('+')) {
    sign = 1;
  } else if (in.take('-')) {
    sign = -1;
  } else {
    return std::nullopt;
  }
  unsigned offsetHours = 0, offsetMinutes = 0;
  if (!in.number(2, offsetHours) || !in.take(':') || !in.number(2, offsetMinutes) || !in.done() ||
      offsetHours > 23 || offsetMinutes > 59) {
    return std::nullopt;
  }
  return millis - sign * (int64_t{offsetHours} * 60 + offsetMinutes) * 60000;
}

std::string formatIso8601(int64_t unixMillis) {
  int64_t days = unixMillis / 86400000;
  int64_t rest = unixMillis % 86400000;
  if (rest < 0) {
    rest += 86400000;
    --days;
  }
  const Civil c = civilFromDays(days);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<long long>(c.year), c.month, c.day, static_cast<int>(rest / 3600000),
                static_cast<int>(rest / 60000 % 60), static_cast<int>(rest / 1000 % 60),
                static_cast<int>(rest % 1000));
  return buf;
}

std::string isoNow() {
  return formatIso8601(std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
}

}  // namespace labgate::util
