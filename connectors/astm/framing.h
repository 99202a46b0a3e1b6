// The ASTM E1381 (CLSI LIS1-A) low-level receiver for one connection, as a pure state machine:
// no sockets, no threads, no clock of its own (the caller passes the time). The TCP server owns one
// Receiver per connection, feeds it the bytes it reads, writes back the bytes it is asked to send
// (ACK/NAK) and calls checkTimeout() periodically. Complete messages (H..L) are handed to a sink
// synchronously, before the frame that completed them is acknowledged, so the connector can commit
// a message before the instrument is told it arrived.
//
// Also here: the checksum and frame builders (the sender side of a frame), used by tests, the bench
// and an outbound ASTM destination.
//
// Not thread-safe: one Receiver belongs to one connection and is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "connectors/astm/options.h"

namespace labgate::astm {

// E1381 control characters.
inline constexpr char kStx = 0x02;
inline constexpr char kEtx = 0x03;
inline constexpr char kEot = 0x04;
inline constexpr char kEnq = 0x05;
inline constexpr char kAck = 0x06;
inline constexpr char kNak = 0x15;
inline constexpr char kEtb = 0x17;
inline constexpr char kCr = 0x0D;
inline constexpr char kLf = 0x0A;

/// The E1381 checksum of `fnThroughTerminator` (the bytes from the frame number up to and including
/// ETX or ETB): their sum modulo 256 as two upper-case hex digits, e.g. "F2".
std::string frameChecksum(std::string_view fnThroughTerminator);

/// One complete frame: STX, frame number digit (frameNumber mod 8), text, ETX (`last`) or ETB,
/// checksum, CR LF. The text is sent as given (an end frame's text normally ends with the record's
/// CR).
std::string buildFrame(int frameNumber, std::string_view text, bool last);

/// The frames that carry `messageText` (records separated by CR, LF or CRLF): one record per end
/// frame, records longer than `maxTextPerFrame` split into intermediate (ETB) frames; frame numbers
/// start at `firstFrameNumber`. Without ENQ/EOT. `maxTextPerFrame` 0 means 240 (E1381).
std::string frameMessage(std::string_view messageText, size_t maxTextPerFrame = 240,
                         int firstFrameNumber = 1);

/// The receiver side of E1381 for one connection. See the file comment for the contract with the
/// server, and docs/connectors/astm.md for the tolerances.
class Receiver {
 public:
  /// Receives one complete message: records joined by CR (no trailing CR), framing removed, ETB
  /// pieces concatenated. Returns true if the message was taken (the frame is then ACKed), false if
  /// not (NAK: the sender retransmits that frame and the message is offered again).
  using MessageSink = std::function<bool(std::string_view messageText)>;

  struct Stats {
    uint64_t framesAccepted = 0;
    uint64_t framesRejected = 0;  // NAKed
    uint64_t messagesDelivered = 0;
    uint64_t messagesDiscarded = 0;  // partial messages dropped (stall, disconnect, limits)
    uint64_t messagesAbandoned = 0;  // messages the sink refused that the sender then gave up on
    uint64_t bytesDiscarded = 0;     // message and frame bytes thrown away
    uint64_t bytesIgnored = 0;       // bytes outside any frame or message (idle garbage)
    uint64_t framesDuplicated = 0;   // retransmissions of an accepted frame (our ACK was lost)
    uint64_t sessionsRefused = 0;    // ENQs answered NAK while refusing sessions (busy)
  };

  Receiver(AstmOptions options, MessageSink sink);

  /// Consumes `bytes` as they arrived (any chunking) and appends the bytes to send back (ACK/NAK)
  /// to `reply`. May call the sink. Never throws on any input, never holds more than
  /// maxFrameBytes + maxMessageBytes (plus one accepted frame for duplicate detection).
  void feed(std::string_view bytes, std::chrono::steady_clock::time_point now, std::string& reply);

  /// If more than receiveTimeoutSeconds passed since the last byte while a session or an unframed
  /// message is open, discards the partial message and returns to idle. An unframed message whose
  /// last line is a complete-looking L record without its line break is delivered instead.
  /// Returns true if something was discarded.
  bool checkTimeout(std::chrono::steady_clock::time_point now);

  /// The peer disconnected: discards any partial message (delivering an unframed message whose
  /// last line is an unterminated L record) and resets to idle. Returns true if something was
  /// discarded.
  bool connectionClosed();

  const Stats& stats() const { return stats_; }

  /// Why the last discard or NAK happened, in words without field values, e.g. "checksum
  /// mismatch in frame 3". Empty until something went wrong.
  const std::string& lastProblem() const { return lastProblem_; }

  /// True between ENQ and EOT, or while an unframed message is being received.
  bool busy() const { return state_ != State::kIdle; }
  /// While set, a new session (ENQ) is answered NAK ("busy") instead of ACK; a session already
  /// open is not affected. The server sets it while the engine cannot commit.
  void setRefuseSessions(bool refuse) { busy_ = refuse; }

 private:
  enum class State { kIdle, kAwaitFrame, kFrameBody, kChecksum, kResync, kUnframed };

  // Each handler consumes byte `c`, or returns false to have it processed again in the new state.
  bool onIdle(char c, std::string& reply);
  bool onAwaitFrame(char c, std::string& reply);
  bool onFrameBody(char c, std::string& reply);
  bool onChecksum(char c, std::string& reply);
  bool onUnframed(char c, std::string& reply);

  // Why the complete frame in frame_ must be NAKed ("" if it is sound); sets its number (-1: none).
  std::string frameProblem(int& frameNumber) const;
  void completeFrame(std::string& reply);
  void acceptFrame(std::string& reply, int frameNumber);
  void rejectFrame(std::string& reply, const std::string& problem);
  void deliverFramed(std::string& reply, int frameNumber, size_t sizeBefore);

  void beginSession(std::string& reply);
  void endSession();
  void resetSession();
  void processUnframedLine();
  void offerUnframed();
  bool discardMessage(const std::string& problem);
  bool discardFrame(const std::string& problem);
  bool finishUnframed(const std::string& problem);
  bool messageComplete() const;

  AstmOptions options_;
  MessageSink sink_;
  State state_ = State::kIdle;

  // Frame in progress (bytes after STX up to and including ETX/ETB) and its checksum digits.
  std::string frame_;
  std::string checksum_;
  // The reassembled text of the message in progress (records each ending in CR).
  std::string message_;
  // The last accepted frame, to recognise a retransmission after a lost ACK.
  std::string lastFrame_;
  int lastFrameNumber_ = -2;
  int expectedFrameNumber_ = 1;
  int consecutiveNaks_ = 0;
  bool rejectingSession_ = false;

  // Idle: recognising the start of unframed records ("H|" or "1H|" at the start of a line).
  std::string probe_;
  bool atLineStart_ = true;
  // Unframed: the line being received and the message's field delimiter.
  std::string line_;
  char fieldDelimiter_ = '|';

  std::chrono::steady_clock::time_point lastActivity_{};
  Stats stats_;
  std::string lastProblem_;
  bool busy_ = false;         // refuse new sessions (setRefuseSessions)
  bool sinkRefused_ = false;  // the pending message's final frame was NAKed by the sink
};

}  // namespace labgate::astm
