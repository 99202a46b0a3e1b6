// The E1381 receiver state machine and the frame builders. See framing.h for the contract.
#include "connectors/astm/framing.h"

#include <cctype>
#include <utility>

namespace labgate::astm {
namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";

bool isHexDigit(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// A byte that can be the field delimiter right after the H of a header record.
bool isDelimiterCandidate(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x80 && std::ispunct(u) != 0;
}

bool isLineBreak(char c) { return c == kCr || c == kLf; }

// The last record of `text` (records separated by CR or LF; trailing separators ignored).
std::string_view lastRecord(std::string_view text) {
  while (!text.empty() && isLineBreak(text.back())) text.remove_suffix(1);
  const size_t cut = text.find_last_of("\r\n");
  return cut == std::string_view::npos ? text : text.substr(cut + 1);
}

bool isTerminatorRecord(std::string_view record, char fieldDelimiter) {
  return !record.empty() && record[0] == 'L' && (record.size() == 1 || record[1] == fieldDelimiter);
}

}  // namespace

std::string frameChecksum(std::string_view fnThroughTerminator) {
  unsigned sum = 0;
  for (char c : fnThroughTerminator) sum += static_cast<unsigned char>(c);
  sum &= 0xFF;
  return {kHexDigits[sum >> 4], kHexDigits[sum & 0x0F]};
}

std::string buildFrame(int frameNumber, std::string_view text, bool last) {
  std::string body;
  body.reserve(text.size() + 2);
  body += static_cast<char>('0' + ((frameNumber % 8) + 8) % 8);
  body.append(text);
  body += last ? kEtx : kEtb;
  std::string frame;
  frame.reserve(body.size() + 5);
  frame += kStx;
  frame += body;
  frame += frameChecksum(body);
  frame += kCr;
  frame += kLf;
  return frame;
}

std::string frameMessage(std::string_view messageText, size_t maxTextPerFrame,
                         int firstFrameNumber) {
  if (maxTextPerFrame == 0) maxTextPerFrame = 240;
  std::string out;
  int frameNumber = firstFrameNumber;
  size_t pos = 0;
  while (pos < messageText.size()) {
    size_t end = messageText.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = messageText.size();
    std::string record(messageText.substr(pos, end - pos));
    pos = end;
    while (pos < messageText.size() && isLineBreak(messageText[pos])) ++pos;
    if (record.empty()) continue;
    record += kCr;
    for (size_t offset = 0; offset < record.size(); offset += maxTextPerFrame) {
      const bool last = offset + maxTextPerFrame >= record.size();
      out +=
          buildFrame(frameNumber++, std::string_view(record).substr(offset, maxTextPerFrame), last);
    }
  }
  return out;
}

Receiver::Receiver(AstmOptions options, MessageSink sink)
    : options_(std::move(options)), sink_(std::move(sink)) {}

void Receiver::feed(std::string_view bytes, std::chrono::steady_clock::time_point now,
                    std::string& reply) {
  if (bytes.empty()) return;
  lastActivity_ = now;
  size_t i = 0;
  while (i < bytes.size()) {
    const char c = bytes[i];
    bool consumed = true;
    switch (state_) {
      case State::kIdle:
        consumed = onIdle(c, reply);
        break;
      case State::kAwaitFrame:
        consumed = onAwaitFrame(c, reply);
        break;
      case State::kFrameBody:
        consumed = onFrameBody(c, reply);
        break;
      case State::kChecksum:
        consumed = onChecksum(c, reply);
        break;
      case State::kResync:
        if (c == kStx || c == kEot || c == kEnq) {
          state_ = State::kAwaitFrame;
          consumed = false;
        } else {
          ++stats_.bytesDiscarded;
        }
        break;
      case State::kUnframed:
        consumed = onUnframed(c, reply);
        break;
    }
    if (consumed) ++i;
  }
}

bool Receiver::onIdle(char c, std::string& reply) {
  if (c == kEnq) {
    stats_.bytesIgnored += probe_.size();
    probe_.clear();
    beginSession(reply);
    return true;
  }
  if (options_.acceptUnframed) {
    const bool digit = c >= '0' && c <= '9';
    if (probe_.empty() && atLineStart_ && (c == 'H' || (digit && options_.stripFramePrefix))) {
      probe_ += c;
      return true;
    }
    if (!probe_.empty()) {
      if (probe_.back() == 'H' && isDelimiterCandidate(c)) {
        // Unframed records begin; a frame-number prefix before the H is dropped.
        probe_.clear();
        fieldDelimiter_ = c;
        message_.clear();
        line_.clear();  // (not `line_ = "H"`: GCC 12 warns falsely on that, bug 105329)
        line_.push_back('H');
        line_.push_back(c);
        state_ = State::kUnframed;
        return true;
      }
      if (probe_.size() == 1 && probe_[0] != 'H' && c == 'H') {
        probe_ += c;
        return true;
      }
      stats_.bytesIgnored += probe_.size();
      probe_.clear();
      atLineStart_ = false;
      return false;  // look at c again with an empty probe
    }
  }
  ++stats_.bytesIgnored;
  atLineStart_ = static_cast<unsigned char>(c) < 0x20;
  return true;
}

bool Receiver::onAwaitFrame(char c, std::string& reply) {
  switch (c) {
    case kStx:
      frame_.clear();
      checksum_.clear();
      state_ = State::kFrameBody;
      break;
    case kEot:
      endSession();
      break;
    case kEnq:
      discardMessage("sender restarted the session (ENQ) mid-message");
      beginSession(reply);
      break;
    case kCr:
    case kLf:
      break;  // frame trailer bytes, in whatever combination the sender uses
    default:
      ++stats_.bytesIgnored;  // e.g. an ACK echoed by the instrument
      break;
  }
  return true;
}

bool Receiver::onFrameBody(char c, std::string& reply) {
  switch (c) {
    case kEtx:
    case kEtb:
      frame_ += c;
      checksum_.clear();
      state_ = State::kChecksum;
      return true;
    case kStx:
      discardFrame("frame interrupted by a new STX");
      return true;  // stay in the body: the new frame starts here
    case kEot:
    case kEnq:
      discardFrame("frame interrupted by EOT or ENQ");
      state_ = State::kAwaitFrame;
      return false;
    default:
      break;
  }
  frame_ += c;
  if (frame_.size() + 2 > options_.maxFrameBytes) {
    rejectFrame(reply, "frame exceeds " + std::to_string(options_.maxFrameBytes) +
                           " bytes without ETX/ETB");
    frame_.clear();
    if (state_ == State::kFrameBody) state_ = State::kResync;
  }
  return true;
}

bool Receiver::onChecksum(char c, std::string& reply) {
  if (isHexDigit(c) && checksum_.size() < 2) {
    checksum_ += c;
    if (checksum_.size() == 2) {
      state_ = State::kAwaitFrame;
      completeFrame(reply);
    }
    return true;
  }
  // Anything else ends a frame sent without (or with a truncated) checksum.
  state_ = State::kAwaitFrame;
  completeFrame(reply);
  return false;
}

std::string Receiver::frameProblem(int& frameNumber) const {
  // frame_ holds FN (optional), text and the terminator.
  frameNumber = -1;
  const char first = frame_.size() > 1 ? frame_[0] : '\0';
  if (first >= '0' && first <= '7') {
    frameNumber = first - '0';
  } else if (first == '8' || first == '9') {
    return "invalid frame number";
  } else if (!options_.allowMissingChecksum) {
    return "frame number missing";
  }
  const std::string where =
      frameNumber >= 0 ? "frame " + std::to_string(frameNumber) : "unnumbered frame";
  if (checksum_.empty()) {
    return options_.allowMissingChecksum ? std::string() : "checksum missing in " + where;
  }
  if (checksum_.size() != 2) return "truncated checksum in " + where;
  std::string received = checksum_;
  if (options_.allowLowercaseChecksum) {
    for (char& ch : received) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  if (received != frameChecksum(frame_)) return "checksum mismatch in " + where;
  if (options_.strictFrameNumbers && frameNumber != expectedFrameNumber_ &&
      !(frameNumber == lastFrameNumber_ && frame_ == lastFrame_)) {
    return "frame number out of sequence in " + where + " (expected " +
           std::to_string(expectedFrameNumber_) + ")";
  }
  return {};
}

void Receiver::completeFrame(std::string& reply) {
  int frameNumber = -1;
  const std::string problem = frameProblem(frameNumber);
  if (!problem.empty()) {
    rejectFrame(reply, problem);
    return;
  }
  const std::string where =
      frameNumber >= 0 ? "frame " + std::to_string(frameNumber) : "unnumbered frame";
  const std::string_view body(frame_.data(), frame_.size() - 1);
  if (rejectingSession_) {
    rejectFrame(reply, "frame refused: this session's message was discarded, waiting for EOT");
    return;
  }
  if (frameNumber == lastFrameNumber_ && frame_ == lastFrame_) {
    // Our ACK was lost and the sender repeated the frame: acknowledge, do not append again.
    ++stats_.framesDuplicated;
    consecutiveNaks_ = 0;
    reply += kAck;
    return;
  }
  const std::string_view text = frameNumber >= 0 ? body.substr(1) : body;
  if (message_.empty() && (text.empty() || text[0] != 'H')) {
    // Text before any header record cannot be parsed; acknowledged at the link level, dropped.
    stats_.bytesDiscarded += text.size();
    lastProblem_ = "frame outside a message (no header record) dropped in " + where;
    acceptFrame(reply, frameNumber);
    return;
  }
  if (message_.size() + text.size() + 1 > options_.maxMessageBytes) {
    stats_.bytesDiscarded += text.size();
    discardMessage("message exceeds " + std::to_string(options_.maxMessageBytes) + " bytes");
    rejectFrame(reply, lastProblem_);
    rejectingSession_ = true;
    return;
  }
  const size_t sizeBefore = message_.size();
  message_.append(text);
  if (frame_.back() == kEtx) {
    if (message_.back() != kCr) message_ += kCr;  // an end frame ends a record
    if (messageComplete()) {
      deliverFramed(reply, frameNumber, sizeBefore);
      return;
    }
  }
  acceptFrame(reply, frameNumber);
}

void Receiver::deliverFramed(std::string& reply, int frameNumber, size_t sizeBefore) {
  std::string_view text(message_);
  while (!text.empty() && text.back() == kCr) text.remove_suffix(1);
  if (sink_ && sink_(text)) {
    ++stats_.messagesDelivered;
    sinkRefused_ = false;
    message_.clear();
    acceptFrame(reply, frameNumber);
    return;
  }
  // Not taken: forget this frame's text so that the retransmission offers the message again.
  message_.resize(sizeBefore);
  sinkRefused_ = true;
  rejectFrame(reply, "message refused by the sink");
}

void Receiver::acceptFrame(std::string& reply, int frameNumber) {
  ++stats_.framesAccepted;
  consecutiveNaks_ = 0;
  lastFrame_ = frame_;
  lastFrameNumber_ = frameNumber;
  if (frameNumber >= 0) expectedFrameNumber_ = (frameNumber + 1) % 8;
  reply += kAck;
}

void Receiver::rejectFrame(std::string& reply, const std::string& problem) {
  ++stats_.framesRejected;
  stats_.bytesDiscarded += frame_.size() + 1;
  lastProblem_ = problem;
  reply += kNak;
  if (++consecutiveNaks_ > options_.maxConsecutiveNaks) {
    consecutiveNaks_ = 0;
    discardMessage("too many consecutive NAKs (" + std::to_string(options_.maxConsecutiveNaks + 1) +
                   ") on one frame");
  }
}

bool Receiver::messageComplete() const {
  const char delimiter = message_.size() > 1 && message_[0] == 'H' ? message_[1] : '|';
  return isTerminatorRecord(lastRecord(message_), delimiter);
}

void Receiver::beginSession(std::string& reply) {
  resetSession();
  if (busy_) {
    // E1381: a receiver that cannot take a message answers ENQ with NAK; the sender waits
    // (typically 10 s) and bids again.
    state_ = State::kIdle;
    ++stats_.sessionsRefused;
    lastProblem_ = "busy: session refused (NAK to ENQ)";
    reply += kNak;
    return;
  }
  state_ = State::kAwaitFrame;
  reply += kAck;
}

void Receiver::resetSession() {
  frame_.clear();
  checksum_.clear();
  lastFrame_.clear();
  lastFrameNumber_ = -2;
  expectedFrameNumber_ = 1;
  consecutiveNaks_ = 0;
  rejectingSession_ = false;
}

void Receiver::endSession() {
  if (!message_.empty() && options_.deliverWithoutTerminator) {
    std::string_view text(message_);
    while (!text.empty() && text.back() == kCr) text.remove_suffix(1);
    if (sink_ && sink_(text)) {
      ++stats_.messagesDelivered;
      message_.clear();
    } else {
      discardMessage("message without terminator refused by the sink");
    }
  }
  discardMessage("session ended (EOT) before the terminator record");
  resetSession();
  state_ = State::kIdle;
  atLineStart_ = true;
}

bool Receiver::discardMessage(const std::string& problem) {
  if (message_.empty()) {
    sinkRefused_ = false;
    return false;
  }
  // A message the sink refused is already accounted for by the sink; when the sender gives up
  // on it (EOT, too many NAKs) it is abandoned, not a link-level loss.
  ++(sinkRefused_ ? stats_.messagesAbandoned : stats_.messagesDiscarded);
  sinkRefused_ = false;
  stats_.bytesDiscarded += message_.size();
  lastProblem_ = problem;
  message_.clear();
  return true;
}

bool Receiver::discardFrame(const std::string& problem) {
  if (frame_.empty()) return false;
  stats_.bytesDiscarded += frame_.size() + 1;
  lastProblem_ = problem;
  frame_.clear();
  return true;
}

// ---- unframed records ----

bool Receiver::onUnframed(char c, std::string& reply) {
  if (c == kEnq || c == kEot) {
    finishUnframed(c == kEnq ? "framed session started inside unframed records"
                             : "EOT inside unframed records before the terminator record");
    if (c == kEnq) {
      beginSession(reply);
    } else {
      state_ = State::kIdle;
      atLineStart_ = true;
    }
    return true;
  }
  if (isLineBreak(c)) {
    processUnframedLine();
    return true;
  }
  line_ += c;
  if (message_.size() + line_.size() + 1 > options_.maxMessageBytes) {
    // The rest of this message arrives in idle and is ignored up to the next header line.
    const std::string problem =
        "message exceeds " + std::to_string(options_.maxMessageBytes) + " bytes";
    stats_.bytesDiscarded += line_.size();
    line_.clear();
    if (!discardMessage(problem)) {
      ++stats_.messagesDiscarded;
      lastProblem_ = problem;
    }
    state_ = State::kIdle;
    atLineStart_ = false;
  }
  return true;
}

void Receiver::processUnframedLine() {
  if (line_.empty()) return;
  std::string_view record(line_);
  if (options_.stripFramePrefix && record.size() > 2 && record[0] >= '0' && record[0] <= '9' &&
      std::isupper(static_cast<unsigned char>(record[1])) && record[2] == fieldDelimiter_) {
    record.remove_prefix(1);
  }
  const bool isHeader = record.size() > 1 && record[0] == 'H' && record[1] == fieldDelimiter_;
  if (isHeader && !message_.empty()) {
    // A new header before the terminator: the previous message is incomplete.
    if (options_.deliverWithoutTerminator) {
      offerUnframed();
    } else {
      discardMessage("new header record before the terminator record");
    }
  }
  message_.append(record);
  message_ += kCr;
  const bool terminator = isTerminatorRecord(record, fieldDelimiter_);
  line_.clear();  // `record` views line_: not used below
  if (terminator) {
    offerUnframed();
    state_ = State::kIdle;
    atLineStart_ = true;
  }
}

void Receiver::offerUnframed() {
  std::string_view text(message_);
  while (!text.empty() && text.back() == kCr) text.remove_suffix(1);
  if (sink_ && sink_(text)) {
    ++stats_.messagesDelivered;
    message_.clear();
  } else {
    discardMessage(
        "message refused by the sink (unframed records cannot be negatively acknowledged)");
  }
}

bool Receiver::finishUnframed(const std::string& problem) {
  processUnframedLine();                         // a last line without its line break
  if (state_ != State::kUnframed) return false;  // it was the terminator: delivered
  if (!message_.empty() && options_.deliverWithoutTerminator) {
    offerUnframed();
    return false;
  }
  return discardMessage(problem);
}

// ---- time and connection ----

bool Receiver::checkTimeout(std::chrono::steady_clock::time_point now) {
  if (state_ == State::kIdle) return false;
  if (now - lastActivity_ < std::chrono::seconds(options_.receiveTimeoutSeconds)) return false;
  bool discarded = false;
  if (state_ == State::kUnframed) {
    discarded = finishUnframed("receive timeout mid-message");
  } else {
    discarded = discardFrame("receive timeout mid-frame");
    discarded = discardMessage("receive timeout mid-message") || discarded;
  }
  line_.clear();
  resetSession();
  state_ = State::kIdle;
  atLineStart_ = true;
  return discarded;
}

bool Receiver::connectionClosed() {
  bool discarded = false;
  if (state_ == State::kUnframed) {
    discarded = finishUnframed("connection closed mid-message");
  } else {
    discarded = discardFrame("connection closed mid-frame");
    discarded = discardMessage("connection closed mid-message") || discarded;
  }
  stats_.bytesIgnored += probe_.size();
  probe_.clear();
  line_.clear();
  message_.clear();
  resetSession();
  state_ = State::kIdle;
  atLineStart_ = true;
  return discarded;
}

}  // namespace labgate::astm
