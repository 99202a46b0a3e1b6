// MLLP framing and the frame reassembler (see mllp.h for the rules).
#include "connectors/hl7/mllp.h"

namespace labgate::hl7 {

std::string frameMllp(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 3);
  out.push_back(kMllpStart);
  out.append(message);
  out.push_back(kMllpEnd);
  out.push_back(kMllpCr);
  return out;
}

MllpDecoder::MllpDecoder(size_t maxFrameBytes) : maxFrameBytes_(maxFrameBytes) {}

const std::string& MllpDecoder::lastProblem() const { return lastProblem_; }

void MllpDecoder::reset() {
  state_ = State::kBetween;
  frame_.clear();
}

void MllpDecoder::startFrame() {
  if (state_ == State::kInFrame) {
    ++droppedFrames_;
    lastProblem_ =
        "a frame started before the previous one ended; the unfinished frame was discarded";
  }
  frame_.clear();
  state_ = State::kInFrame;
}

std::vector<std::string> MllpDecoder::feed(std::string_view bytes) {
  std::vector<std::string> frames;
  lastProblem_.clear();
  size_t i = 0;
  while (i < bytes.size()) {
    char c = bytes[i];
    switch (state_) {
      case State::kAfterEnd:
        state_ = State::kBetween;
        if (c == kMllpCr) {  // the CR that completes <FS><CR>
          ++i;
          break;
        }
        continue;  // FS without CR: look at this byte again as a byte between frames
      case State::kBetween:
        if (c == kMllpStart)
          startFrame();
        else
          ++ignoredBytes_;
        ++i;
        break;
      case State::kInFrame: {
        // Copy the run of content bytes up to the next control byte in one go.
        size_t stop = bytes.find_first_of(std::string_view("\x0B\x1C", 2), i);
        if (stop == std::string_view::npos) stop = bytes.size();
        size_t room = maxFrameBytes_ - frame_.size();
        if (stop - i > room) {
          ++droppedFrames_;
          ++oversizeFrames_;
          lastProblem_ = "a frame exceeded the limit of " + std::to_string(maxFrameBytes_) +
                         " bytes and was dropped";
          frame_.clear();
          frame_.shrink_to_fit();
          state_ = State::kDiscarding;
          i = stop;
          break;
        }
        frame_.append(bytes.substr(i, stop - i));
        i = stop;
        if (i == bytes.size()) break;
        if (bytes[i] == kMllpEnd) {
          frames.push_back(std::move(frame_));
          frame_.clear();
          state_ = State::kAfterEnd;
        } else {
          startFrame();
        }
        ++i;
        break;
      }
      case State::kDiscarding: {
        size_t stop = bytes.find_first_of(std::string_view("\x0B\x1C", 2), i);
        if (stop == std::string_view::npos) {
          i = bytes.size();
          break;
        }
        i = stop + 1;
        if (bytes[stop] == kMllpEnd) {
          state_ = State::kAfterEnd;
        } else {
          frame_.clear();
          state_ = State::kInFrame;
        }
        break;
      }
    }
  }
  return frames;
}

}  // namespace labgate::hl7
