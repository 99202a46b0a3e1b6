// The browser console's files (see console.h).
#include "server/console.h"

#include <Poco/Net/HTTPResponse.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string_view>

#include "engine/net/http_util.h"
#include "server/console_assets.h"

namespace labgate {
namespace {

using Poco::Net::HTTPResponse;

/// A short content fingerprint for ETag (FNV-1a, 64 bits): it tells versions apart, it is not a
/// security property.
std::string fingerprint(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string out = "\"";
  for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(hash >> shift) & 0xF];
  out += '"';
  return out;
}

std::string contentTypeOf(const std::string& name) {
  auto endsWith = [&](std::string_view suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (endsWith(".html")) return "text/html; charset=utf-8";
  if (endsWith(".js")) return "text/javascript; charset=utf-8";
  if (endsWith(".css")) return "text/css; charset=utf-8";
  if (endsWith(".svg")) return "image/svg+xml";
  if (endsWith(".png")) return "image/png";
  return "application/octet-stream";
}

/// A file name of the console's folder: letters, digits, '.', '-', '_', not starting with '.'
/// (no path, no traversal, no hidden file).
bool isPlainName(const std::string& name) {
  if (name.empty() || name.size() > 100 || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

ConsoleFiles::ConsoleFiles(std::string dir) : dir_(std::move(dir)) {
  for (size_t i = 0; i < console_web::kAssetCount; ++i) {
    const console_web::Asset& a = console_web::kAssets[i];
    File f;
    f.body.assign(reinterpret_cast<const char*>(a.data), a.size);
    f.etag = fingerprint(f.body);
    builtIn_.emplace(a.name, std::move(f));
  }
}

bool ConsoleFiles::handles(const std::string& path) {
  return path == "/" || path == "/index.html" || path.rfind("/assets/", 0) == 0;
}

const char* ConsoleFiles::contentSecurityPolicy() {
  return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
         "base-uri 'none'";
}

bool ConsoleFiles::available() const { return !dir_.empty() || !builtIn_.empty(); }

const ConsoleFiles::File* ConsoleFiles::find(const std::string& name, File& fromDir) const {
  if (dir_.empty()) {
    auto it = builtIn_.find(name);
    return it == builtIn_.end() ? nullptr : &it->second;
  }
  if (!isPlainName(name)) return nullptr;
  std::ifstream in(dir_ + "/" + name, std::ios::binary);
  if (!in) return nullptr;
  fromDir.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  fromDir.etag = fingerprint(fromDir.body);
  return &fromDir;
}

void ConsoleFiles::serve(Poco::Net::HTTPServerRequest& request,
                         Poco::Net::HTTPServerResponse& response, const std::string& path) const {
  const std::string& method = request.getMethod();
  if (method != "GET" && method != "HEAD") {
    response.set("Allow", "GET, HEAD");
    sendProblem(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed",
                path + " answers GET");
    return;
  }
  if (!available()) {
    sendProblem(response, HTTPResponse::HTTP_NOT_FOUND, "Not Found",
                "this labgated was built without the browser console (LABGATE_CONSOLE=OFF); the "
                "REST API is at /api/v1");
    return;
  }
  // index.html only at / (and /index.html): an asset path never answers the page.
  const std::string name = path.rfind("/assets/", 0) == 0 ? path.substr(8) : "index.html";
  File fromDir;
  const File* found =
      path.rfind("/assets/", 0) == 0 && name == "index.html" ? nullptr : find(name, fromDir);
  if (!found) {
    sendProblem(response, HTTPResponse::HTTP_NOT_FOUND, "Not Found", "no resource at " + path);
    return;
  }
  const File& file = *found;
  response.set("Content-Security-Policy", contentSecurityPolicy());
  response.set("X-Frame-Options", "DENY");
  response.set("Referrer-Policy", "no-referrer");
  response.set("Cross-Origin-Opener-Policy", "same-origin");
  response.set("Cross-Origin-Resource-Policy", "same-origin");
  response.set("Cache-Control", "no-cache");
  response.set("ETag", file.etag);
  if (request.get("If-None-Match", "") == file.etag) {
    // No body; Content-Length is the representation's, as for HEAD (RFC 9110 §8.6).
    response.setStatusAndReason(HTTPResponse::HTTP_NOT_MODIFIED);
    response.setContentLength(static_cast<std::streamsize>(file.body.size()));
    response.send();
    return;
  }
  response.setStatusAndReason(HTTPResponse::HTTP_OK);
  response.setContentType(contentTypeOf(name));
  response.setContentLength(static_cast<std::streamsize>(file.body.size()));
  if (method == "HEAD") {
    response.send();
  } else {
    response.sendBuffer(file.body.data(), file.body.size());
  }
}

}  // namespace labgate
