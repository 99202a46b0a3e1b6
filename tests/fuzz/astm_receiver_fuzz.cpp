// libFuzzer harness for the ASTM inbound path: arbitrary bytes go through the E1381 receiver in
// chunks whose sizes come from the input itself, and every message it delivers through
// splitMessages, parseRecords and buildMessage. Nothing may crash, hang, or grow without bound.
// Built with clang when available (tests/CMakeLists.txt); a short run is part of the test suite.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/astm/framing.h"
#include "connectors/astm/options.h"
#include "connectors/astm/records.h"

namespace {

bool handleMessage(std::string_view text, const labgate::astm::AstmOptions& options) {
  for (const std::string& one : labgate::astm::splitMessages(text, options)) {
    auto document = labgate::astm::parseRecords(one, options);
    if (!document.isOk()) continue;
    auto message = labgate::astm::buildMessage(document.value(), options);
    (void)message;
  }
  return text.size() % 3 != 0;  // exercise both the ACK and the NAK path of the final frame
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  labgate::astm::AstmOptions options;
  options.maxFrameBytes = 4096;  // small limits so the fuzzer reaches them
  options.maxMessageBytes = 16384;
  options.strictFrameNumbers = (data[0] & 1) != 0;
  options.acceptUnframed = (data[0] & 2) != 0;
  options.deliverWithoutTerminator = (data[0] & 4) != 0;
  labgate::astm::Receiver receiver(
      options, [&](std::string_view text) { return handleMessage(text, options); });
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t chunk = 1 + (data[0] >> 3);  // 1..32 bytes per read, like TCP segments
  auto now = std::chrono::steady_clock::time_point{};
  std::string reply;
  for (size_t at = 0; at < input.size(); at += chunk) {
    receiver.feed(input.substr(at, chunk), now, reply);
    now += std::chrono::seconds(1);
    if (reply.size() > 4 * input.size() + 16) __builtin_trap();  // replies stay proportional
    reply.clear();
  }
  receiver.checkTimeout(now + std::chrono::hours(1));
  receiver.connectionClosed();
  return 0;
}
