// bench/loadgen: the load generator and the sink LIS of bench/run-e2e (issue 16).
//
// Written on its own (POSIX sockets, no LabGate code), so that what it measures does not share a
// framing or parsing bug with the engine under test.
//
//   loadgen send --protocol hl7|astm --port P [--host 127.0.0.1] [--connections 8]
//                [--messages 600] [--samples 1] [--results 5] [--idle 0] [--tag A]
//                [--astm-frame-bytes 240] [--timeout-seconds 60]
//     Opens `--idle` connections that send nothing (held until the end), then `--connections`
//     connections that each send `--messages` messages in series, timing each one from its first
//     byte sent to the acknowledgement that ends it (HL7: the MLLP ACK, which must be AA; ASTM
//     E1381: ENQ .. the ACK of the frame that completes the message). Prints one JSON line.
//   loadgen sink [--port 0] [--host 127.0.0.1]
//     An HL7 MLLP server that answers every message AA at once and counts distinct MSH-10s, their
//     OBX segments and the time of the first and last new one. Prints "listening PORT", then
//     answers each line "stats" on stdin with one JSON line; exits at "quit" or end of input.
//
// Times are CLOCK_MONOTONIC nanoseconds (steady_clock), comparable between the two processes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

constexpr char kStx = 0x02, kEtx = 0x03, kEot = 0x04, kEnq = 0x05, kAck = 0x06, kNak = 0x15,
               kEtb = 0x17, kVt = 0x0b, kFs = 0x1c, kCr = 0x0d, kLf = 0x0a;

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------------------------
// Command line

struct Args {
  std::string mode;
  std::map<std::string, std::string> values;

  std::string text(const std::string& key, const std::string& fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
  long number(const std::string& key, long fallback) const {
    auto it = values.find(key);
    if (it == values.end()) return fallback;
    char* end = nullptr;
    long value = std::strtol(it->second.c_str(), &end, 10);
    if (end == it->second.c_str() || *end != '\0') {
      std::cerr << "loadgen: --" << key << " needs a number, not '" << it->second << "'\n";
      std::exit(2);
    }
    return value;
  }
};

bool parseArgs(int argc, char** argv, Args& args) {
  if (argc < 2) return false;
  args.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) return false;
    args.values[key.substr(2)] = argv[++i];
  }
  return args.mode == "send" || args.mode == "sink";
}

// ---------------------------------------------------------------------------------------------
// Sockets

int connectTo(const std::string& host, int port, int timeoutMs) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return -1;
  const int64_t deadline = nowNs() + int64_t{timeoutMs} * 1000000;
  for (;;) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as instruments should
      return fd;
    }
    ::close(fd);
    if (nowNs() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool sendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

/// Reads what is there (waiting up to timeoutMs for the first byte); false on close or timeout.
bool receiveSome(int fd, std::string& into, int timeoutMs) {
  pollfd p{fd, POLLIN, 0};
  int ready = ::poll(&p, 1, timeoutMs);
  if (ready <= 0) return false;
  char buffer[65536];
  ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  if (n <= 0) return false;
  into.append(buffer, static_cast<size_t>(n));
  return true;
}

// ---------------------------------------------------------------------------------------------
// Messages

const char* const kCodes[] = {"25OHD3", "25OHD2", "TESTO", "CORT", "TAC"};
constexpr size_t kCodeCount = sizeof kCodes / sizeof kCodes[0];

std::string sampleId(const std::string& tag, int connection, int message, int sample) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%sS%03d%05d%02d", tag.c_str(), connection, message, sample);
  return buffer;
}

std::string resultValue(int message, int result) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%d.%d", 10 + result, message % 10);
  return buffer;
}

/// An ORU^R01 (segments end in CR) with `samples` OBR groups of `results` OBX each.
std::string hl7Message(const std::string& tag, int connection, int message, int samples,
                       int results) {
  char controlId[64];
  std::snprintf(controlId, sizeof controlId, "%sC%03d-%06d", tag.c_str(), connection, message);
  std::string text = "MSH|^~\\&|LOADGEN|BENCH|LABGATE|LAB|20261207120000||ORU^R01^ORU_R01|";
  text.append(controlId).append("|P|2.5.1\r");
  for (int s = 0; s < samples; ++s) {
    const std::string id = sampleId(tag, connection, message, s);
    text.append("OBR|").append(std::to_string(s + 1)).append("|P").append(id).append("|");
    text.append(id).append("|24323-8^Panel^LN|||20261207113000\r");
    for (int r = 0; r < results; ++r) {
      const char* code = kCodes[static_cast<size_t>(r) % kCodeCount];
      text.append("OBX|").append(std::to_string(r + 1)).append("|NM|").append(code);
      text.append("^").append(code).append("^L||").append(resultValue(message, r));
      text.append("|ng/mL|||||F|||20261207115000\r");
    }
  }
  return text;
}

/// The records of an ASTM E1394 message (each ends in CR): H, P, then per sample O and its Rs, L.
std::vector<std::string> astmRecords(const std::string& tag, int connection, int message,
                                     int samples, int results) {
  std::vector<std::string> records;
  records.emplace_back("H|\\^&|||LoadGen^1.0|||||||P|LIS2-A2|20261207120000\r");
  records.emplace_back("P|1\r");
  for (int s = 0; s < samples; ++s) {
    records.push_back("O|" + std::to_string(s + 1) + "|" + sampleId(tag, connection, message, s) +
                      "||^^^ALL|R\r");
    for (int r = 0; r < results; ++r) {
      records.push_back("R|" + std::to_string(r + 1) + "|^^^" +
                        kCodes[static_cast<size_t>(r) % kCodeCount] + "|" +
                        resultValue(message, r) + "|ng/mL||N||F||||20261207115000\r");
    }
  }
  records.emplace_back("L|1|N\r");
  return records;
}

/// E1381 frames of `records`: each record starts a frame, a record longer than `maxText` goes on
/// in intermediate (ETB) frames; frame numbers run 1..7, 0, 1.. . With maxText of the whole
/// message size or more, the message is one frame.
std::vector<std::string> astmFrames(const std::vector<std::string>& records, size_t maxText) {
  std::vector<std::string> texts;
  std::string pending;
  for (const std::string& record : records) {
    if (!pending.empty() && pending.size() + record.size() > maxText) {
      texts.push_back(pending);
      pending.clear();
    }
    pending += record;
    if (maxText <= 240 || pending.size() >= maxText) {  // E1381: one record a frame
      texts.push_back(pending);
      pending.clear();
    }
  }
  if (!pending.empty()) texts.push_back(pending);
  std::vector<std::string> frames;
  int number = 1;
  for (const std::string& text : texts) {
    for (size_t at = 0; at < text.size(); at += maxText) {
      std::string_view part = std::string_view(text).substr(at, maxText);
      const bool last = at + maxText >= text.size();
      std::string body = std::to_string(number % 8);
      body.append(part);
      body.push_back(last ? kEtx : kEtb);
      unsigned sum = 0;
      for (char c : body) sum += static_cast<unsigned char>(c);
      char checksum[3];
      std::snprintf(checksum, sizeof checksum, "%02X", sum & 0xFF);
      std::string frame(1, kStx);
      frame.append(body).append(checksum).push_back(kCr);
      frame.push_back(kLf);
      frames.push_back(std::move(frame));
      ++number;
    }
  }
  return frames;
}

// ---------------------------------------------------------------------------------------------
// send

struct SendPlan {
  std::string protocol, host, tag;
  int port = 0, connections = 8, messages = 600, samples = 1, results = 5, idle = 0;
  size_t astmFrameBytes = 240;
  int timeoutMs = 60000;
};

struct ConnectionOutcome {
  std::vector<int64_t> latencies;  // ns, one per acknowledged message
  int64_t firstSend = 0, lastAck = 0;
  int accepted = 0;  // AA (HL7) / the final frame ACKed (ASTM)
  int refused = 0;   // HL7 AE/AR, ASTM NAK of the final frame
  std::string error;
};

/// Waits for one whole MLLP frame in `buffer` and returns its MSA-1 ("" when there is none).
bool readHl7Ack(int fd, std::string& buffer, int timeoutMs, std::string& code) {
  for (;;) {
    size_t end = buffer.find(std::string{kFs, kCr});
    if (end != std::string::npos) {
      std::string frame = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      size_t msa = frame.find("MSA|");
      code = msa == std::string::npos ? "" : frame.substr(msa + 4, 2);
      return true;
    }
    if (!receiveSome(fd, buffer, timeoutMs)) return false;
  }
}

/// One byte answer of the E1381 receiver (ACK, NAK or EOT); 0 on close or timeout.
char readAstmAnswer(int fd, int timeoutMs) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeoutMs) <= 0) return 0;
  char c = 0;
  return ::recv(fd, &c, 1, 0) == 1 ? c : 0;
}

void sendHl7(const SendPlan& plan, int connection, int fd, ConnectionOutcome& out) {
  std::string buffer;
  for (int m = 0; m < plan.messages; ++m) {
    std::string frame(1, kVt);
    frame += hl7Message(plan.tag, connection, m, plan.samples, plan.results);
    frame.push_back(kFs);
    frame.push_back(kCr);
    const int64_t start = nowNs();
    if (out.firstSend == 0) out.firstSend = start;
    std::string code;
    if (!sendAll(fd, frame) || !readHl7Ack(fd, buffer, plan.timeoutMs, code)) {
      out.error =
          "connection " + std::to_string(connection) + ": no ACK for message " + std::to_string(m);
      return;
    }
    out.lastAck = nowNs();
    out.latencies.push_back(out.lastAck - start);
    if (code == "AA" || code == "CA") {
      ++out.accepted;
    } else {
      ++out.refused;
      if (out.error.empty()) out.error = "message answered " + code + " (expected AA)";
    }
  }
}

void sendAstm(const SendPlan& plan, int connection, int fd, ConnectionOutcome& out) {
  for (int m = 0; m < plan.messages; ++m) {
    std::vector<std::string> frames = astmFrames(
        astmRecords(plan.tag, connection, m, plan.samples, plan.results), plan.astmFrameBytes);
    const int64_t start = nowNs();
    if (out.firstSend == 0) out.firstSend = start;
    // ENQ until the receiver takes the line (it may answer NAK while busy).
    char answer = 0;
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (!sendAll(fd, std::string_view(&kEnq, 1))) break;
      answer = readAstmAnswer(fd, plan.timeoutMs);
      if (answer != kNak) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (answer != kAck) {
      out.error = "connection " + std::to_string(connection) + ": ENQ not acknowledged";
      return;
    }
    bool accepted = true;
    for (const std::string& frame : frames) {
      if (!sendAll(fd, frame)) {
        out.error = "connection " + std::to_string(connection) + ": send failed";
        return;
      }
      answer = readAstmAnswer(fd, plan.timeoutMs);
      if (answer == 0) {
        out.error = "connection " + std::to_string(connection) + ": frame not answered";
        return;
      }
      if (answer != kAck) {
        accepted = false;
        break;
      }
    }
    out.lastAck = nowNs();
    out.latencies.push_back(out.lastAck - start);
    if (!sendAll(fd, std::string_view(&kEot, 1))) {
      out.error = "connection " + std::to_string(connection) + ": EOT not sent";
      return;
    }
    if (accepted) {
      ++out.accepted;
    } else {
      ++out.refused;
      if (out.error.empty()) out.error = "a frame was answered NAK";
    }
  }
}

int64_t percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto index = static_cast<size_t>(std::lround(p * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(index, sorted.size() - 1)];
}

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

/// True while the peer has not closed `fd` (nothing is read).
bool stillOpen(int fd) {
  char c = 0;
  ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

int runSend(const Args& args) {
  SendPlan plan;
  plan.protocol = args.text("protocol", "hl7");
  plan.host = args.text("host", "127.0.0.1");
  plan.tag = args.text("tag", "A");
  plan.port = static_cast<int>(args.number("port", 0));
  plan.connections = static_cast<int>(args.number("connections", 8));
  plan.messages = static_cast<int>(args.number("messages", 600));
  plan.samples = static_cast<int>(args.number("samples", 1));
  plan.results = static_cast<int>(args.number("results", 5));
  plan.idle = static_cast<int>(args.number("idle", 0));
  plan.astmFrameBytes = static_cast<size_t>(args.number("astm-frame-bytes", 240));
  plan.timeoutMs = static_cast<int>(args.number("timeout-seconds", 60) * 1000);
  if ((plan.protocol != "hl7" && plan.protocol != "astm") || plan.port <= 0 ||
      plan.connections < 1 || plan.connections > 1000 || plan.messages < 1 || plan.samples < 1 ||
      plan.samples > 999 || plan.results < 1 || plan.idle < 0 || plan.astmFrameBytes < 16) {
    std::cerr << "loadgen send: bad arguments (see the comment at the top of bench/loadgen.cpp)\n";
    return 2;
  }
  std::vector<int> idle;
  for (int i = 0; i < plan.idle; ++i) {
    int fd = connectTo(plan.host, plan.port, 10000);
    if (fd < 0) {
      std::cerr << "loadgen send: idle connection " << i << " could not connect\n";
      return 1;
    }
    idle.push_back(fd);
  }
  std::vector<int> sockets;
  for (int c = 0; c < plan.connections; ++c) {
    int fd = connectTo(plan.host, plan.port, 10000);
    if (fd < 0) {
      std::cerr << "loadgen send: connection " << c << " could not connect\n";
      return 1;
    }
    sockets.push_back(fd);
  }
  std::vector<ConnectionOutcome> outcomes(static_cast<size_t>(plan.connections));
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(plan.connections));
  for (int c = 0; c < plan.connections; ++c) {
    threads.emplace_back([&, c] {
      while (!go.load()) std::this_thread::yield();
      auto& out = outcomes[static_cast<size_t>(c)];
      int fd = sockets[static_cast<size_t>(c)];
      if (plan.protocol == "hl7") {
        sendHl7(plan, c, fd, out);
      } else {
        sendAstm(plan, c, fd, out);
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  for (int fd : sockets) ::close(fd);
  int idleOpen = 0;
  for (int fd : idle) {
    idleOpen += stillOpen(fd) ? 1 : 0;
    ::close(fd);
  }
  std::vector<int64_t> latencies;
  int64_t firstSend = 0, lastAck = 0;
  long accepted = 0, refused = 0;
  std::string errors;
  int failedConnections = 0;
  for (const auto& out : outcomes) {
    latencies.insert(latencies.end(), out.latencies.begin(), out.latencies.end());
    if (out.firstSend != 0 && (firstSend == 0 || out.firstSend < firstSend))
      firstSend = out.firstSend;
    lastAck = std::max(lastAck, out.lastAck);
    accepted += out.accepted;
    refused += out.refused;
    if (!out.error.empty()) {
      ++failedConnections;
      if (errors.empty()) errors = out.error;
    }
  }
  std::sort(latencies.begin(), latencies.end());
  const long planned = static_cast<long>(plan.connections) * plan.messages;
  std::printf(
      "{\"protocol\":%s,\"connections\":%d,\"idle\":%d,\"idle_open_at_end\":%d,"
      "\"messages\":%ld,\"samples\":%d,\"results\":%d,\"accepted\":%ld,\"refused\":%ld,"
      "\"failed_connections\":%d,\"first_send_ns\":%lld,\"last_ack_ns\":%lld,"
      "\"p50_ns\":%lld,\"p99_ns\":%lld,\"p999_ns\":%lld,\"max_ns\":%lld,\"error\":%s}\n",
      jsonString(plan.protocol).c_str(), plan.connections, plan.idle, idleOpen, planned,
      plan.samples, plan.results, accepted, refused, failedConnections,
      static_cast<long long>(firstSend), static_cast<long long>(lastAck),
      static_cast<long long>(percentile(latencies, 0.50)),
      static_cast<long long>(percentile(latencies, 0.99)),
      static_cast<long long>(percentile(latencies, 0.999)),
      static_cast<long long>(latencies.empty() ? 0 : latencies.back()), jsonString(errors).c_str());
  return accepted == planned ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// sink

struct SinkStats {
  std::mutex mutex;
  std::unordered_set<std::string> controlIds;
  long frames = 0, results = 0, connections = 0;
  int64_t first = 0, last = 0;
};

/// Field `index` (2 or more; MSH-1 is the separator itself) of the MSH segment.
std::string mshField(std::string_view message, int index) {
  size_t end = message.find(kCr);
  std::string_view msh = message.substr(0, end);
  if (msh.size() < 4 || msh.substr(0, 3) != "MSH") return "";
  const char separator = msh[3];
  size_t at = 3;
  for (int field = 2; field < index; ++field) {  // the separator at 3 starts MSH-2
    at = msh.find(separator, at + 1);
    if (at == std::string_view::npos) return "";
  }
  size_t stop = msh.find(separator, at + 1);
  return std::string(
      msh.substr(at + 1, stop == std::string_view::npos ? std::string_view::npos : stop - at - 1));
}

long countObx(std::string_view message) {
  long count = 0;
  for (size_t at = message.find("\rOBX|"); at != std::string_view::npos;
       at = message.find("\rOBX|", at + 5)) {
    ++count;
  }
  return count;
}

void serveSink(int fd, SinkStats& stats) {
  std::string buffer;
  for (;;) {
    size_t end = buffer.find(std::string{kFs, kCr});
    if (end == std::string::npos) {
      if (!receiveSome(fd, buffer, 3600 * 1000)) break;
      continue;
    }
    std::string_view message = std::string_view(buffer).substr(0, end);
    size_t start = message.find(kVt);
    if (start != std::string_view::npos) message.remove_prefix(start + 1);
    const std::string controlId = mshField(message, 10);
    const long results = countObx(message);
    const int64_t at = nowNs();
    {
      std::lock_guard<std::mutex> lock(stats.mutex);
      ++stats.frames;
      if (stats.controlIds.insert(controlId).second) {
        stats.results += results;
        if (stats.first == 0) stats.first = at;
        stats.last = at;
      }
    }
    std::string ack(1, kVt);
    ack += "MSH|^~\\&|SINK|LIS|LABGATE|LAB|20261207120000||ACK^R01^ACK|S";
    ack += controlId;
    ack += "|P|2.5.1\rMSA|AA|";
    ack += controlId;
    ack += "\r";
    ack.push_back(kFs);
    ack.push_back(kCr);
    buffer.erase(0, end + 2);
    if (!sendAll(fd, ack)) break;
  }
  ::close(fd);
}

int runSink(const Args& args) {
  const std::string host = args.text("host", "127.0.0.1");
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(args.number("port", 0)));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1 ||
      ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 64) != 0) {
    std::cerr << "loadgen sink: cannot listen: " << std::strerror(errno) << "\n";
    return 1;
  }
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::printf("listening %d\n", ntohs(address.sin_port));
  std::fflush(stdout);
  SinkStats stats;
  std::thread acceptor([&] {
    for (;;) {
      int fd = ::accept(listener, nullptr, nullptr);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // the listener was shut down
      }
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      {
        std::lock_guard<std::mutex> lock(stats.mutex);
        ++stats.connections;
      }
      std::thread(serveSink, fd, std::ref(stats)).detach();
    }
  });
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "quit") break;
    if (line != "stats") continue;
    std::lock_guard<std::mutex> lock(stats.mutex);
    std::printf(
        "{\"delivered\":%zu,\"results\":%ld,\"frames\":%ld,\"connections\":%ld,"
        "\"first_ns\":%lld,\"last_ns\":%lld,\"now_ns\":%lld}\n",
        stats.controlIds.size(), stats.results, stats.frames, stats.connections,
        static_cast<long long>(stats.first), static_cast<long long>(stats.last),
        static_cast<long long>(nowNs()));
    std::fflush(stdout);
  }
  ::shutdown(listener, SHUT_RDWR);
  ::close(listener);
  acceptor.join();
  std::_Exit(0);  // connection threads are detached and may sit in recv()
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parseArgs(argc, argv, args)) {
    std::cerr << "usage: loadgen send --protocol hl7|astm --port P [options]\n"
                 "       loadgen sink [--port 0]\n"
                 "(the options are listed at the top of bench/loadgen.cpp)\n";
    return 2;
  }
  return args.mode == "send" ? runSend(args) : runSink(args);
}
