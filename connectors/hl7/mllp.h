// MLLP (HL7 v2.5.1 Appendix C) framing: <VT> message <FS><CR>. frameMllp wraps one message for
// sending; MllpDecoder reassembles the frames of one TCP connection from whatever chunks the socket
// delivers (a frame in pieces, several frames in one read). Pure, no I/O. An MllpDecoder belongs to
// one connection and is not thread-safe; frameMllp is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace labgate::hl7 {

inline constexpr char kMllpStart = 0x0B;  // VT, start block
inline constexpr char kMllpEnd = 0x1C;    // FS, end block
inline constexpr char kMllpCr = 0x0D;     // CR after FS

/// `message` wrapped as one MLLP frame: 0x0B message 0x1C 0x0D. The message is not inspected.
std::string frameMllp(std::string_view message);

/// Reassembles MLLP frames from a byte stream.
///
/// A frame starts at VT and ends at FS; the CR that should follow FS is consumed when present, and
/// a missing one is tolerated (FS never occurs inside HL7 text). Bytes outside frames (stray CRs,
/// line noise, keep-alives) are ignored and counted. A VT inside an unfinished frame starts a new
/// frame and the unfinished one is discarded. A frame whose content grows beyond maxFrameBytes is
/// dropped whole: bytes up to its FS (or the next VT) are discarded and decoding resumes after it.
class MllpDecoder {
 public:
  explicit MllpDecoder(size_t maxFrameBytes = 1024 * 1024);

  /// Appends bytes; returns the contents (without VT/FS/CR) of the frames completed by them, in
  /// order. Clears lastProblem() first, so after a call it describes this call's bytes only.
  std::vector<std::string> feed(std::string_view bytes);

  /// The last problem seen by the latest feed() (frame dropped, unfinished frame abandoned), or ""
  /// when there was none. Words only, never message content.
  const std::string& lastProblem() const;

  /// Bytes seen outside any frame since construction.
  uint64_t ignoredBytes() const { return ignoredBytes_; }
  /// Frames dropped (oversize or abandoned) since construction.
  uint64_t droppedFrames() const { return droppedFrames_; }
  /// Of those, the frames dropped because they exceeded maxFrameBytes (the sender is owed a
  /// rejection; an abandoned frame is not: its sender started over).
  uint64_t oversizeFrames() const { return oversizeFrames_; }
  /// True while a frame has started and not yet ended (e.g. the peer closed mid-frame).
  bool inFrame() const { return state_ == State::kInFrame || state_ == State::kDiscarding; }
  /// Forgets any partial frame (counters are kept), e.g. after the connection was reset.
  void reset();

 private:
  enum class State { kBetween, kAfterEnd, kInFrame, kDiscarding };

  void startFrame();

  size_t maxFrameBytes_;
  State state_ = State::kBetween;
  std::string frame_;
  std::string lastProblem_;
  uint64_t ignoredBytes_ = 0;
  uint64_t droppedFrames_ = 0;
  uint64_t oversizeFrames_ = 0;
};

}  // namespace labgate::hl7
