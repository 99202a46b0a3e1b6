// The browser console's built files (console/web, bundled by esbuild), embedded into labgated at
// build time by console/embed_assets.cmake: the generated console_assets.cpp defines the table.
#pragma once

#include <cstddef>

namespace labgate::console_web {

struct Asset {
  const char* name;  // "index.html", "app.js", "app.css"; nullptr ends the table
  const unsigned char* data;
  size_t size;
};

extern const Asset kAssets[];  // kAssetCount entries, then {nullptr, nullptr, 0}
extern const size_t kAssetCount;

}  // namespace labgate::console_web
