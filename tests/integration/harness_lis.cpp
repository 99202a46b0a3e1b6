// The harness's fake LIS (an MLLP server answering ORU^R01 with AA/AE/AR or nothing) and the
// HL7 helpers the tests assert with (see harness.h).
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
// Fake LIS

FakeLis::FakeLis(int port) : port_(port) {}

FakeLis::~FakeLis() { stop(); }

void FakeLis::start() {
  if (running_) return;
  server_ = std::make_unique<Poco::Net::ServerSocket>();
  server_->bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_)), true,
                false);
  server_->listen(64);
  running_ = true;
  acceptThread_ = std::thread(&FakeLis::acceptLoop, this);
}

void FakeLis::stop() {
  if (!running_) return;
  running_ = false;
  if (acceptThread_.joinable()) acceptThread_.join();
  try {
    server_->close();
  } catch (const Poco::Exception&) {
  }
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    threads.swap(connectionThreads_);
  }
  for (auto& t : threads) t.join();
  server_.reset();
}

void FakeLis::setMode(AckMode mode) {
  std::lock_guard<std::mutex> lock(mutex_);
  mode_ = mode;
  policy_ = nullptr;
}

void FakeLis::setPolicy(std::function<AckMode(const std::string&)> policy) {
  std::lock_guard<std::mutex> lock(mutex_);
  policy_ = std::move(policy);
}

std::vector<std::string> FakeLis::messages() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return messages_;
}

size_t FakeLis::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return messages_.size();
}

bool FakeLis::waitFor(const std::function<bool(const std::vector<std::string>&)>& done,
                      std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return done(messages_); });
}

void FakeLis::acceptLoop() {
  while (running_) {
    try {
      if (!server_->poll(Poco::Timespan(0, 100000), Poco::Net::Socket::SELECT_READ)) continue;
      Poco::Net::StreamSocket socket = server_->acceptConnection();
      ++connections_;
      std::lock_guard<std::mutex> lock(mutex_);
      connectionThreads_.emplace_back(&FakeLis::serve, this, socket);
    } catch (const Poco::Exception&) {
    }
  }
}

void FakeLis::setAckText(std::string text) {
  std::lock_guard<std::mutex> lock(mutex_);
  ackText_ = std::move(text);
}

std::string FakeLis::answerFor(const std::string& message) {
  AckMode mode;
  int id;
  std::string text;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    mode = policy_ ? policy_(message) : mode_;
    id = ++ackCounter_;
    text = ackText_;
  }
  if (mode == AckMode::kSilent) return {};
  const char* code = mode == AckMode::kAA ? "AA" : mode == AckMode::kAE ? "AE" : "AR";
  std::string controlId;
  auto segments = hl7Segments(message);
  if (!segments.empty()) controlId = hl7Field(segments[0], 10);
  const std::string now = Poco::DateTimeFormatter::format(Poco::DateTime(), "%Y%m%d%H%M%S");
  std::string ack = "MSH|^~\\&|LIS|LAB|LABGATE||" + now + "||ACK^R01^ACK|LISACK" +
                    std::to_string(id) + "|P|2.5.1\rMSA|" + code + "|" + controlId +
                    (text.empty() ? "" : "|" + text) + "\r";
  return "\x0b" + ack + "\x1c\r";
}

void FakeLis::serve(Poco::Net::StreamSocket socket) {
  std::string buffer;
  char chunk[8192];
  try {
    socket.setReceiveTimeout(Poco::Timespan(0, 100000));
  } catch (const Poco::Exception&) {
  }
  while (running_) {
    int n = 0;
    try {
      n = socket.receiveBytes(chunk, sizeof chunk);
    } catch (const Poco::TimeoutException&) {
      continue;
    } catch (const Poco::Exception&) {
      break;
    }
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    for (;;) {
      size_t start = buffer.find('\x0b');
      if (start == std::string::npos) {
        buffer.clear();
        break;
      }
      size_t end = buffer.find("\x1c\r", start);
      if (end == std::string::npos) {
        buffer.erase(0, start);
        break;
      }
      std::string message = buffer.substr(start + 1, end - start - 1);
      buffer.erase(0, end + 2);
      if (message.rfind("MSH", 0) != 0) ++malformed_;
      std::string answer = answerFor(message);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        messages_.push_back(message);
      }
      changed_.notify_all();
      if (!answer.empty()) {
        try {
          socket.sendBytes(answer.data(), static_cast<int>(answer.size()));
        } catch (const Poco::Exception&) {
        }
      }
    }
  }
  try {
    socket.close();
  } catch (const Poco::Exception&) {
  }
}

// ---------------------------------------------------------------------------------------------
// HL7 helpers

std::vector<std::string> hl7Segments(const std::string& message) {
  std::vector<std::string> segments;
  std::string current;
  for (char c : message) {
    if (c == '\r' || c == '\n') {
      if (!current.empty()) segments.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) segments.push_back(current);
  return segments;
}

std::vector<std::string> hl7Fields(const std::string& segment) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : segment) {
    if (c == '|') {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  if (!parts.empty() && parts[0] == "MSH") parts.insert(parts.begin() + 1, "|");
  return parts;
}

std::string hl7Field(const std::string& segment, size_t n) {
  auto fields = hl7Fields(segment);
  return n < fields.size() ? fields[n] : std::string();
}

std::string component(const std::string& field, size_t n) {
  size_t index = 1;
  std::string current;
  for (char c : field) {
    if (c == '^') {
      if (index == n) return current;
      ++index;
      current.clear();
    } else {
      current += c;
    }
  }
  return index == n ? current : std::string();
}

std::vector<std::string> segmentsNamed(const std::string& message, const std::string& name) {
  std::vector<std::string> found;
  for (const auto& s : hl7Segments(message)) {
    if (s.rfind(name + "|", 0) == 0 || s == name) found.push_back(s);
  }
  return found;
}

std::vector<std::string> obrSampleIds(const std::string& message) {
  std::vector<std::string> ids;
  for (const auto& obr : segmentsNamed(message, "OBR")) {
    ids.push_back(component(hl7Field(obr, 3), 1));
  }
  return ids;
}

std::vector<Observation> observations(const std::string& message) {
  std::vector<Observation> list;
  for (const auto& obx : segmentsNamed(message, "OBX")) {
    Observation o;
    const std::string id = hl7Field(obx, 3);
    o.code = component(id, 1);
    o.name = component(id, 2);
    o.system = component(id, 3);
    o.value = hl7Field(obx, 5);
    o.units = component(hl7Field(obx, 6), 1);
    list.push_back(o);
  }
  return list;
}

std::vector<std::string> receivedSampleIds(const std::vector<std::string>& messages) {
  std::vector<std::string> ids;
  for (const auto& m : messages) {
    auto some = obrSampleIds(m);
    ids.insert(ids.end(), some.begin(), some.end());
  }
  return ids;
}

size_t timesReceived(const std::vector<std::string>& messages, const std::string& sampleId) {
  size_t n = 0;
  for (const auto& m : messages) {
    auto ids = obrSampleIds(m);
    if (std::find(ids.begin(), ids.end(), sampleId) != ids.end()) ++n;
  }
  return n;
}

}  // namespace labgate::it
