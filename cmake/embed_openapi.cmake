# latchkey_embed_openapi(<out_var>): a C++ source defining latchkey::server::openapi_json(),
# docs/openapi.yaml as JSON (served at GET /openapi.json). Needs /usr/bin/python3 with
# python3-yaml (scripts/install-deps installs it).
function(latchkey_embed_openapi out_var)
  find_program(LATCHKEY_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
  if(NOT LATCHKEY_PYTHON3)
    message(FATAL_ERROR "latchkey: /usr/bin/python3 is needed to embed docs/openapi.yaml (apt install python3-yaml)")
  endif()
  execute_process(COMMAND ${LATCHKEY_PYTHON3} -c "import yaml" RESULT_VARIABLE no_yaml OUTPUT_QUIET ERROR_QUIET)
  if(no_yaml)
    message(FATAL_ERROR "latchkey: python3-yaml is needed to embed docs/openapi.yaml (apt install python3-yaml)")
  endif()
  set(in ${PROJECT_SOURCE_DIR}/docs/openapi.yaml)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/openapi_json.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${LATCHKEY_PYTHON3} ${PROJECT_SOURCE_DIR}/cmake/openapi_to_cpp.py ${in} ${out}
    DEPENDS ${in} ${PROJECT_SOURCE_DIR}/cmake/openapi_to_cpp.py
    COMMENT "Embedding docs/openapi.yaml"
    VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
