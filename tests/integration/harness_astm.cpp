// The harness's ASTM E1381/E1394 side: frame and record builders and the instrument client
// (see harness.h).
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DirectoryIterator.h>
#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/integration/harness.h"

namespace labgate::it {

// ---------------------------------------------------------------------------------------------
// ASTM

namespace astm {

std::string checksum(const std::string& fnThroughTerminator) {
  unsigned sum = 0;
  for (unsigned char c : fnThroughTerminator) sum += c;
  char hex[3];
  std::snprintf(hex, sizeof hex, "%02X", sum & 0xFFu);
  return hex;
}

std::string frame(int fn, const std::string& text, bool final) {
  std::string body;
  body += static_cast<char>('0' + (fn % 8));
  body += text;
  body += final ? kEtx : kEtb;
  return std::string(1, kStx) + body + checksum(body) + "\r\n";
}

std::string replyName(int reply) {
  switch (reply) {
    case kAck:
      return "ACK";
    case kNak:
      return "NAK";
    case kEot:
      return "EOT";
    case kEnq:
      return "ENQ";
    case kTimeout:
      return "no reply (timeout)";
    case kClosed:
      return "connection closed";
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", reply & 0xFF);
      return hex;
    }
  }
}

std::string record(const std::vector<std::string>& fields) {
  std::string text;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) text += '|';
    text += fields[i];
  }
  return text;
}

std::string record(char type, const std::map<int, std::string>& fields) {
  int last = 1;
  for (const auto& [pos, value] : fields) last = std::max(last, pos);
  std::vector<std::string> all(static_cast<size_t>(last));
  all[0] = std::string(1, type);
  for (const auto& [pos, value] : fields) {
    if (pos >= 2) all[static_cast<size_t>(pos - 1)] = value;
  }
  return record(all);
}

std::vector<FrameText> splitIntoFrames(const std::vector<std::string>& records, Framing framing,
                                       size_t maxText) {
  std::vector<FrameText> frames;
  auto cut = [&](const std::string& text) {
    for (size_t at = 0; at < text.size(); at += maxText) {
      const bool last = at + maxText >= text.size();
      frames.push_back({text.substr(at, maxText), last});
    }
  };
  if (framing == Framing::kRecordPerFrame) {
    for (const auto& r : records) cut(r + "\r");
    return frames;
  }
  std::string all;
  for (const auto& r : records) all += r + "\r";
  if (framing == Framing::kContinuous) {
    cut(all);
  } else {
    frames.push_back({all, true});
  }
  return frames;
}

}  // namespace astm

std::vector<std::string> buildAstmMessage(const std::vector<TestSample>& samples,
                                          const std::map<int, std::string>& patientFields,
                                          const std::vector<std::string>& extraAfterPatient,
                                          const std::string& controlId) {
  std::vector<std::string> records;
  records.push_back(astm::record('H', {{2, "\\^&"},
                                       {3, controlId},
                                       {5, "TQ-01^LabGateIT^1.0"},
                                       {12, "P"},
                                       {13, "LIS2-A2"},
                                       {14, "20240301101500"}}));
  std::map<int, std::string> patient = patientFields;
  patient[2] = "1";
  records.push_back(astm::record('P', patient));
  records.insert(records.end(), extraAfterPatient.begin(), extraAfterPatient.end());
  int orderSeq = 0;
  for (const auto& sample : samples) {
    std::string tests;
    for (const auto& r : sample.results) tests += (tests.empty() ? "" : "\\") + ("^^^" + r.code);
    records.push_back(astm::record('O', {{2, std::to_string(++orderSeq)},
                                         {3, sample.sampleId},
                                         {5, tests},
                                         {6, "R"},
                                         {12, "N"},
                                         {26, "F"}}));
    int resultSeq = 0;
    for (const auto& r : sample.results) {
      records.push_back(astm::record('R', {{2, std::to_string(++resultSeq)},
                                           {3, "^^^" + r.code},
                                           {4, r.value},
                                           {5, r.units},
                                           {7, "N"},
                                           {9, "F"},
                                           {13, "20240301101200"}}));
      if (resultSeq == 1) {
        int commentSeq = 0;
        for (const auto& c : sample.resultComments) {
          records.push_back(
              astm::record('C', {{2, std::to_string(++commentSeq)}, {3, "I"}, {4, c}, {5, "G"}}));
        }
      }
    }
  }
  records.push_back(astm::record('L', {{2, "1"}, {3, "N"}}));
  return records;
}

AstmInstrument::AstmInstrument(int port) {
  socket_.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)),
                  Poco::Timespan(5, 0));
  socket_.setNoDelay(true);
}

AstmInstrument::~AstmInstrument() { close(); }

void AstmInstrument::close() {
  try {
    socket_.close();
  } catch (const Poco::Exception&) {
  }
}

void AstmInstrument::sendRaw(const std::string& bytes) {
  size_t sent = 0;
  try {
    while (sent < bytes.size()) {
      int n = socket_.sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent));
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  } catch (const Poco::Exception&) {
    // the reply read that follows reports the closed connection
  }
}

int AstmInstrument::readReply(std::chrono::milliseconds timeout) {
  try {
    socket_.setReceiveTimeout(toTimespan(timeout));
    char c = 0;
    int n = socket_.receiveBytes(&c, 1);
    if (n <= 0) return astm::kClosed;
    return static_cast<unsigned char>(c);
  } catch (const Poco::TimeoutException&) {
    return astm::kTimeout;
  } catch (const Poco::Exception&) {
    return astm::kClosed;
  }
}

int AstmInstrument::sendRawAndRead(const std::string& bytes, std::chrono::milliseconds timeout) {
  sendRaw(bytes);
  return readReply(timeout);
}

int AstmInstrument::enq(std::chrono::milliseconds timeout) {
  fn_ = 1;
  return sendRawAndRead(std::string(1, astm::kEnq), timeout);
}

int AstmInstrument::sendFrame(const std::string& text, bool final,
                              std::chrono::milliseconds timeout) {
  int reply = sendRawAndRead(astm::frame(fn_, text, final), timeout);
  if (reply == astm::kAck || reply == astm::kEot) fn_ = (fn_ + 1) % 8;
  return reply;
}

Transfer AstmInstrument::sendMessage(const std::vector<std::string>& records, astm::Framing framing,
                                     bool retransmitOnNak, size_t maxText) {
  Transfer transfer;
  for (const auto& f : astm::splitIntoFrames(records, framing, maxText)) {
    int attempts = 0;
    for (;;) {
      int reply = sendFrame(f.text, f.final);
      transfer.replies.push_back(reply);
      transfer.finalReply = reply;
      if (reply == astm::kAck) break;
      if (reply == astm::kNak && retransmitOnNak && ++attempts < 6) continue;
      return transfer;
    }
  }
  transfer.complete = true;
  return transfer;
}

Transfer AstmInstrument::sendSession(const std::vector<std::string>& records,
                                     astm::Framing framing) {
  Transfer transfer;
  int reply = enq();
  if (reply != astm::kAck) {
    transfer.replies.push_back(reply);
    transfer.finalReply = reply;
    return transfer;
  }
  transfer = sendMessage(records, framing);
  eot();
  return transfer;
}

void AstmInstrument::eot() { sendRaw(std::string(1, astm::kEot)); }

}  // namespace labgate::it
