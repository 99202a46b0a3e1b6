// The upload source (see upload_source.h).
#include "connectors/http/upload_source.h"

#include <Poco/JSON/Array.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/PartHandler.h>
#include <Poco/URI.h>
#include <errno.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <set>
#include <vector>

#include "connectors/http/spool_file.h"
#include "engine/log/log.h"
#include "engine/net/http_util.h"
#include "engine/net/tcp_listener.h"

namespace labgate::http {
namespace {

using Poco::Net::HTTPResponse;
namespace fs = std::filesystem;

Poco::Logger& logger() { return Poco::Logger::get("upload"); }

/// Reads and drops what is left of `in` (a multipart epilogue), at most `limit` bytes; true when
/// the stream ended within it.
bool skipRest(std::istream& in, int64_t limit) {
  char buffer[4096];
  int64_t dropped = 0;
  while (in && dropped <= limit) {
    in.read(buffer, sizeof buffer);
    if (in.gcount() <= 0) break;
    dropped += in.gcount();
  }
  return dropped <= limit && !in.bad();
}

/// Streams the first file part of a multipart form (the part named "file", or else the first
/// part with a filename) into the spool file, capped at the connector's size limit.
class FilePart : public Poco::Net::PartHandler {
 public:
  FilePart(SpoolFile& spool, int64_t limit) : spool_(spool), limit_(limit) {}
  void handlePart(const Poco::Net::MessageHeader& header, std::istream& stream) override {
    std::string disposition, params;
    Poco::Net::NameValueCollection values;
    if (header.has("Content-Disposition")) {
      Poco::Net::MessageHeader::splitParameters(header.get("Content-Disposition"), disposition,
                                                values);
    }
    bool isFile = values.get("name", "") == "file" || values.has("filename");
    if (!isFile || found_ || tooLarge_ || failed_) {
      skipRest(stream, limit_);
      return;
    }
    found_ = true;
    fileName_ = values.get("filename", "upload");
    SpoolFile::Copy copied = spool_.copyFrom(stream, limit_);
    tooLarge_ = copied == SpoolFile::Copy::kTooLarge;
    failed_ = copied == SpoolFile::Copy::kFailed;
  }
  bool found() const { return found_; }
  bool tooLarge() const { return tooLarge_; }
  bool failed() const { return failed_; }
  const std::string& fileName() const { return fileName_; }

 private:
  SpoolFile& spool_;
  int64_t limit_;
  bool found_ = false;
  bool tooLarge_ = false;
  bool failed_ = false;
  std::string fileName_;
};

struct Settings {
  int64_t maxBytes = int64_t{256} << 20;
};

class UploadSource : public Source, public HttpSource {
 public:
  UploadSource(SourceContext context, Settings settings, ExportSelection selection)
      : context_(std::move(context)),
        settings_(std::move(settings)),
        selection_(std::move(selection)),
        spoolDir_(
            (fs::path(context_.dataDir.empty() ? "." : context_.dataDir) / "spool" / context_.name)
                .string()) {}

  /// Creates the spool directory (0700) and removes what a crash left in it.
  Status start() override {
    std::error_code error;
    fs::create_directories(spoolDir_, error);
    if (error) {
      return Status::io(spoolDir_, "cannot create the upload spool directory: " + error.message() +
                                       "; check that data.dir is writable");
    }
    fs::permissions(spoolDir_, fs::perms::owner_all, fs::perm_options::replace, error);
    for (const auto& entry : fs::directory_iterator(spoolDir_, error)) {
      std::error_code ignored;
      if (entry.path().filename().string().rfind("upload-", 0) == 0) fs::remove(entry, ignored);
    }
    return Status::ok();
  }
  void stop() override {}

  Poco::JSON::Object::Ptr health() const override {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("name", context_.name);
    out->set("kind", "upload");
    out->set("state", "ready");
    out->set("format", selection_.configuredName().empty() ? std::string("auto")
                                                           : selection_.configuredName());
    out->set("uploads_imported", imported_.load());
    out->set("uploads_rejected", rejected_.load());
    out->set("uploads_duplicate", duplicates_.load());
    out->set("results_accepted", results_.load());
    return out;
  }

  void handleUpload(Poco::Net::HTTPServerRequest& request,
                    Poco::Net::HTTPServerResponse& response) override {
    // Authorised by the REST API before this is called: the caller holds uploads.create, its
    // address passed the connector's allow-list, and a connector-scoped key names this connector.
    Poco::URI uri(request.getURI());
    std::string requestedFormat, fileName = "upload";
    for (const auto& [name, value] : uri.getQueryParameters()) {
      if (name == "format") requestedFormat = value;
      if (name == "filename") fileName = value;
    }
    if (request.hasContentLength() && request.getContentLength64() > settings_.maxBytes) {
      tooLarge(request, response);
      return;
    }
    StatusOr<std::unique_ptr<SpoolFile>> made = SpoolFile::create(spoolDir_);
    if (!made.isOk()) {
      logError(logger(), "connector {}: upload not received: {}", context_.name,
               made.status().toString());
      response.set("Retry-After", "10");
      sendProblem(response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "Service Unavailable",
                  "the upload could not be received (no room to spool it); send it again");
      return;
    }
    SpoolFile& spool = *made.value();
    const std::string contentType = request.getContentType();
    bool failed = false;
    try {
      if (contentType.rfind("multipart/form-data", 0) == 0) {
        FilePart part(spool, settings_.maxBytes);
        Poco::Net::HTMLForm form(request, request.stream(), part);
        if (part.tooLarge()) {
          tooLarge(request, response);
          return;
        }
        if (!part.found()) {
          sendProblem(response, HTTPResponse::HTTP_BAD_REQUEST, "Bad Request",
                      "the multipart form has no file part (name it \"file\")");
          return;
        }
        failed = part.failed();
        fileName = part.fileName();
        if (!failed && skipRest(request.stream(), 65536)) requestBodyRead();
      } else {
        SpoolFile::Copy copied = spool.copyFrom(request.stream(), settings_.maxBytes);
        if (copied == SpoolFile::Copy::kTooLarge) {
          tooLarge(request, response);
          return;
        }
        failed = copied == SpoolFile::Copy::kFailed;
        if (!failed) requestBodyRead();
      }
    } catch (const Poco::Exception& e) {
      sendProblem(response, HTTPResponse::HTTP_BAD_REQUEST, "Bad Request",
                  "the request body could not be read as " +
                      (contentType.empty() ? std::string("a file") : contentType) + ": " +
                      e.name());
      return;
    }
    if (failed || !spool.finish()) {
      logError(logger(), "connector {}: upload not received: cannot write the spool file in {}: {}",
               context_.name, spoolDir_, std::string(std::strerror(errno)));
      response.set("Retry-After", "10");
      sendProblem(response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "Service Unavailable",
                  "the upload could not be received (no room to spool it); send it again");
      return;
    }
    if (spool.size() == 0) {
      sendProblem(response, HTTPResponse::HTTP_BAD_REQUEST, "Bad Request", "the upload is empty");
      return;
    }

    std::string digest = spool.sha256Hex();
    ExportJob job;
    job.in = &spool.reader();
    selection_.assign(job, spool.head(), requestedFormat);
    job.fileName = fileName;
    job.peer = request.clientAddress().toString();
    job.contentSha256 = digest;
    job.sizeBytes = spool.size();
    Intake intake = context_.exportHandler(job);

    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    switch (intake.outcome) {
      case Intake::Outcome::kAccepted:
        ++imported_;
        results_ += static_cast<int64_t>(intake.results);
        out->set("batch_id", intake.messageId);
        out->set("status", "stored");
        out->set("format", job.formatName);
        out->set("sha256", digest);
        out->set("results", intake.results);
        out->set("held", intake.held);
        response.set("Location", "/api/v1/batches/" + std::to_string(intake.messageId));
        sendJson(response, HTTPResponse::HTTP_ACCEPTED, out);
        return;
      case Intake::Outcome::kDuplicate:
        ++duplicates_;
        out->set("batch_id", intake.messageId);
        out->set("status", "duplicate");
        out->set("format", job.formatName);
        out->set("sha256", digest);
        out->set("detail", "identical content was imported before; nothing was stored again");
        sendJson(response, HTTPResponse::HTTP_OK, out);
        return;
      case Intake::Outcome::kRefused:
        ++rejected_;
        unprocessable(response, "Patient-identifying data refused", intake);
        return;
      case Intake::Outcome::kInvalid:
        ++rejected_;
        unprocessable(response, "Export not accepted", intake);
        return;
      case Intake::Outcome::kFailed:
        response.set("Retry-After", "10");
        sendProblem(response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "Service Unavailable",
                    "the batch could not be stored; nothing was kept; send it again");
        return;
    }
  }

 private:
  void tooLarge(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    ++rejected_;
    // Read (and drop) what the client is still sending, up to a bound, so that it reads the 413
    // instead of a connection reset; beyond the bound the connection is simply closed.
    std::string sink(1 << 16, '\0');
    int64_t drained = 0;
    const int64_t bound = settings_.maxBytes * 4 + (int64_t{16} << 20);
    std::istream& in = request.stream();
    while (in && drained < bound) {
      in.read(sink.data(), static_cast<std::streamsize>(sink.size()));
      if (in.gcount() <= 0) break;
      drained += in.gcount();
    }
    response.setKeepAlive(false);
    sendProblem(response, HTTPResponse::HTTP_REQUESTENTITYTOOLARGE, "Payload Too Large",
                "the upload is over this connector's limit of " +
                    std::to_string(settings_.maxBytes) + " bytes (max_bytes)");
  }

  void unprocessable(Poco::Net::HTTPServerResponse& response, const std::string& title,
                     const Intake& intake) {
    Poco::JSON::Array::Ptr errors = new Poco::JSON::Array;
    for (const auto& d : intake.details) {
      Poco::JSON::Object::Ptr e = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      e->set("location", d.location);
      e->set("reason", d.reason);
      errors->add(e);
    }
    Poco::JSON::Object::Ptr extra = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    extra->set("errors", errors);
    std::string detail = intake.details.empty() ? std::string("the upload was not accepted")
                                                : intake.details.front().toString();
    if (intake.details.size() > 1) {
      detail += " (and " + std::to_string(intake.details.size() - 1) + " more)";
    }
    sendProblem(response, HTTPResponse::HTTP_UNPROCESSABLE_ENTITY, title, detail, extra);
  }

  SourceContext context_;
  Settings settings_;
  ExportSelection selection_;
  std::string spoolDir_;  // <data.dir>/spool/<connector>
  std::atomic<int64_t> imported_{0}, rejected_{0}, duplicates_{0}, results_{0};
};

StatusOr<std::unique_ptr<Source>> createUploadSource(const SourceContext& context) {
  const std::string prefix = "connector." + context.name + ".";
  Settings settings;
  ExportSettings exportSettings;
  exportSettings.keyPrefix = prefix;
  exportSettings.configDir = context.configDir;
  for (const auto& [key, value] : context.keys) {
    Status status;
    if (key == "max_bytes") {
      status = parseInteger(prefix + key, value, 1, int64_t{4} << 30, settings.maxBytes);
    } else if (context.exportFormats && ExportSelection::isExportKey(*context.exportFormats, key)) {
      exportSettings.keys[key] = value;
    } else if (!isEngineConnectorKey(key)) {
      status = Status::config(prefix + key, "unknown key for kind upload");
    }
    if (!status.isOk()) return status;
  }
  StatusOr<ExportSelection> selection = exportSelectionFor(context, "upload", exportSettings);
  if (!selection.isOk()) return selection.status();
  return std::unique_ptr<Source>(
      new UploadSource(context, std::move(settings), std::move(selection).value()));
}

}  // namespace

void registerUploadSource(Registry& registry) {
  SourceKind kind;
  kind.factory = createUploadSource;
  kind.deduplicate = true;  // the dedupe key is the file's content hash
  registry.addSource("upload", std::move(kind));
}

}  // namespace labgate::http
