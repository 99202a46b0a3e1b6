#include "engine/net/http_util.h"

#include <Poco/JSON/Stringifier.h>

#include <sstream>

namespace labgate {

void sendJson(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPResponse::HTTPStatus code,
              const Poco::JSON::Object::Ptr& body, const std::string& contentType) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(body, out);
  std::string text = out.str();
  response.setStatusAndReason(code);
  response.setContentType(contentType);
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  response.send() << text << std::flush;  // on the wire now, even if the connection then closes
}

Poco::JSON::Object::Ptr problem(const std::string& title, int status, const std::string& detail) {
  Poco::JSON::Object::Ptr p = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  p->set("type", "about:blank");
  p->set("title", title);
  p->set("status", status);
  p->set("detail", detail);
  return p;
}

void sendProblem(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPResponse::HTTPStatus code,
                 const std::string& title, const std::string& detail,
                 Poco::JSON::Object::Ptr body) {
  Poco::JSON::Object::Ptr p = problem(title, static_cast<int>(code), detail);
  if (body) {
    std::vector<std::string> names;
    body->getNames(names);
    for (const auto& n : names) p->set(n, body->get(n));
  }
  sendJson(response, code, p, "application/problem+json");
}

}  // namespace labgate
