// Document helpers.
#include "engine/model/document.h"

namespace labgate {

std::string_view Record::raw(size_t field) const {
  return field < fields.size() ? fields[field].raw() : std::string_view();
}

std::string Record::location(size_t field) const {
  if (line <= 0) return type + "-" + std::to_string(field);
  // append(), not "literal" + string: GCC 12's -Wrestrict misfires on the latter in Release.
  std::string out = "line ";
  out.append(std::to_string(line)).append(" ").append(type);
  if (namesInLocation && names && field < names->size() && !(*names)[field].empty()) {
    if ((*names)[field].front() != '#') out.push_back('@');
    out.append((*names)[field]);
  } else {
    out.push_back(' ');
    out.append(std::to_string(field));
  }
  return out;
}

}  // namespace labgate
