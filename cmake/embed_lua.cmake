# Embeds every lua/*.lua file into a generated C++ source, so the binary is self-contained and
# the scripts stay files of their own in the repository.
function(latchkey_embed_lua out_var)
  file(GLOB lua_files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/lua/*.lua)
  list(SORT lua_files)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded_scripts.cpp)
  list(JOIN lua_files "|" lua_arg)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} "-DFILES=${lua_arg}" -P ${PROJECT_SOURCE_DIR}/cmake/embed_lua_gen.cmake
    DEPENDS ${lua_files} ${PROJECT_SOURCE_DIR}/cmake/embed_lua_gen.cmake
    COMMENT "Embedding Lua scripts"
    VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
