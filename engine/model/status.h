// Status: the outcome of a stage or an operation that can fail for expected reasons (bad frame,
// PHI found, unmapped code, bad configuration). Modelled on LevelDB's Status: cheap to return,
// `ok()` to test, a code to branch on, and a location plus reason to show a person.
//
// A Status never carries a field value from a message: `location` names where ("P-6", "line 4",
// "connector.lab1.listen"), `reason` says what is wrong in words that contain no patient data.
//
// Status and StatusOr are [[nodiscard]]: a result that is dropped is a compile error under
// -Werror. Where ignoring one is right (best-effort cleanup), cast it to void and say why.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace labgate {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalid,      // malformed input: bad frame, bad record, unknown format
    kPhiRefused,   // the PHI gate refused the message
    kNotFound,     // a named thing (file, key, code) does not exist
    kConfig,       // configuration is wrong
    kIo,           // an I/O operation failed (socket, file, database)
    kTooLarge,     // input exceeds a configured limit
    kUnavailable,  // a peer is not reachable or did not answer in time
    kRejected,     // a peer answered with a rejection (e.g. HL7 AE/AR)
  };

  Status() = default;
  static Status ok() { return Status(); }
  static Status invalid(std::string location, std::string reason) {
    return Status(Code::kInvalid, std::move(location), std::move(reason));
  }
  static Status phiRefused(std::string location, std::string reason) {
    return Status(Code::kPhiRefused, std::move(location), std::move(reason));
  }
  static Status notFound(std::string location, std::string reason) {
    return Status(Code::kNotFound, std::move(location), std::move(reason));
  }
  static Status config(std::string location, std::string reason) {
    return Status(Code::kConfig, std::move(location), std::move(reason));
  }
  static Status io(std::string location, std::string reason) {
    return Status(Code::kIo, std::move(location), std::move(reason));
  }
  static Status tooLarge(std::string location, std::string reason) {
    return Status(Code::kTooLarge, std::move(location), std::move(reason));
  }
  static Status unavailable(std::string location, std::string reason) {
    return Status(Code::kUnavailable, std::move(location), std::move(reason));
  }
  static Status rejected(std::string location, std::string reason) {
    return Status(Code::kRejected, std::move(location), std::move(reason));
  }

  bool isOk() const { return code_ == Code::kOk; }
  explicit operator bool() const { return isOk(); }
  Code code() const { return code_; }
  const std::string& location() const { return location_; }
  const std::string& reason() const { return reason_; }

  /// "location: reason", or "OK".
  std::string toString() const {
    if (isOk()) return "OK";
    if (location_.empty()) return reason_;
    return location_ + ": " + reason_;
  }

 private:
  Status(Code code, std::string location, std::string reason)
      : code_(code), location_(std::move(location)), reason_(std::move(reason)) {}

  Code code_ = Code::kOk;
  std::string location_;
  std::string reason_;
};

/// Thrown in release builds when a StatusOr is used wrongly (see StatusOr::value()); the request
/// or connection boundary catches it like any other std::exception.
class BadStatusOrAccess : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace status_internal {
/// A StatusOr was misused (a bug in the caller, never bad input): debug builds print what happened
/// and abort so that the tests show it; release builds throw BadStatusOrAccess.
[[noreturn]] inline void misuse(const char* what, const Status& status) {
  const std::string message =
      std::string("StatusOr misuse: ") + what + " (" + status.toString() + ")";
#ifdef NDEBUG
  throw BadStatusOrAccess(message);
#else
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
#endif
}
}  // namespace status_internal

/// A value or the Status that says why there is none. T needs no default constructor.
/// value() and operator-> on a StatusOr without a value are a misuse (status_internal::misuse).
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.isOk()) {
#ifndef NDEBUG
      status_internal::misuse("constructed from an OK Status without a value", status_);
#else
      status_ = Status::invalid("StatusOr", "internal error: an OK status without a value");
#endif
    }
  }

  bool isOk() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & {
    check();
    return *value_;
  }
  const T& value() const& {
    check();
    return *value_;
  }
  T&& value() && {
    check();
    return std::move(*value_);
  }
  T* operator->() {
    check();
    return &*value_;
  }
  const T* operator->() const {
    check();
    return &*value_;
  }

 private:
  void check() const {
    if (!value_.has_value()) status_internal::misuse("value() on an error", status_);
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace labgate
