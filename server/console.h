// The browser console served at / on the HTTP and HTTPS listeners (docs/console.md): index.html
// at "/" and the bundle at "/assets/app.js" and "/assets/app.css", from the copy built into
// labgated, or from a folder (console.dir) when an operator or a developer sets one.
//
// Every answer carries a Content-Security-Policy that allows scripts, styles, images and requests
// from the engine itself only and no inline script or style, refuses framing (clickjacking on the
// sign dialog) and sends no referrer. Files are revalidated by ETag (a new labgated brings a new
// console at once) and answered 304 when unchanged. Only GET and HEAD; anything else 405.
//
// Thread-safety: const after construction; serve() may run on every connection thread.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <map>
#include <string>

namespace labgate {

class ConsoleFiles {
 public:
  /// `dir` empty: the built-in copy; else the files of that folder, read at each request.
  explicit ConsoleFiles(std::string dir);

  /// Whether `path` is the console's: "/", "/index.html" or under "/assets/".
  static bool handles(const std::string& path);

  /// The Content-Security-Policy of the console's pages.
  static const char* contentSecurityPolicy();

  void serve(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
             const std::string& path) const;

  /// Whether a console is there to serve (false when labgated was built with
  /// LABGATE_CONSOLE=OFF and no console.dir is set).
  bool available() const;

 private:
  struct File {
    std::string body;
    std::string etag;
  };
  /// The file for a name: the built-in copy (no copy made), or read from the folder into
  /// `fromDir`; null when there is none.
  const File* find(const std::string& name, File& fromDir) const;

  std::string dir_;
  std::map<std::string, File> builtIn_;
};

}  // namespace labgate
