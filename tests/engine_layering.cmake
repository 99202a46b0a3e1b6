# The engine's layering (docs/architecture.md): no file under engine/ includes a header from
# connectors/, mappings/ or rules/; they plug in through engine/net/interfaces.h and
# engine/model/*_stage.h, and only server/ names them. Run as
#   cmake -DSOURCE_DIR=<repository> -P tests/engine_layering.cmake
# Fails, naming every offending file and line, when one does.
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "engine_layering: pass -DSOURCE_DIR=<repository root>")
endif()
file(GLOB_RECURSE files "${SOURCE_DIR}/engine/*")
set(offences "")
foreach(path IN LISTS files)
  if(NOT path MATCHES "\\.(h|hpp|cpp|cc|in)$")
    continue()
  endif()
  file(STRINGS "${path}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<](connectors|mappings|rules)/")
  foreach(line IN LISTS lines)
    file(RELATIVE_PATH rel "${SOURCE_DIR}" "${path}")
    string(APPEND offences "  ${rel}: ${line}\n")
  endforeach()
endforeach()
list(LENGTH files count)
if(count EQUAL 0)
  message(FATAL_ERROR "engine_layering: no files under ${SOURCE_DIR}/engine")
endif()
if(offences)
  message(FATAL_ERROR "engine/ must not include connectors/, mappings/ or rules/ (register the "
                      "plug-in in server/plugins.cpp and reach it through the interfaces in "
                      "engine/net/interfaces.h or engine/model/*_stage.h):\n${offences}")
endif()
message(STATUS "engine_layering: ${count} files under engine/, none includes a plug-in")
