# Embeds files into a generated C++ source, so the binary is self-contained and the files stay
# files of their own in the repository (cmake/embed_files_gen.cmake writes it).
#   latchkey_embed_lua(<out_var>): lua/*.lua as latchkey::redis::embedded_scripts()
#   latchkey_embed_console(<out_var>): console/* as latchkey::server::console::embedded_files()
function(latchkey_embed out_var glob out_name header namespace function type name_part comment)
  file(GLOB files CONFIGURE_DEPENDS ${glob})
  list(SORT files)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${out_name})
  list(JOIN files "|" files_arg)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} "-DFILES=${files_arg}" -DHEADER=${header} -DNAMESPACE=${namespace}
            -DFUNCTION=${function} -DTYPE=${type} -DNAME_PART=${name_part}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_files_gen.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/embed_files_gen.cmake
    COMMENT "${comment}"
    VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()

function(latchkey_embed_lua out_var)
  latchkey_embed(out ${PROJECT_SOURCE_DIR}/lua/*.lua embedded_scripts.cpp latchkey/redis/scripts.hpp
                 latchkey::redis embedded_scripts ScriptSource NAME_WE "Embedding Lua scripts")
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()

function(latchkey_embed_console out_var)
  latchkey_embed(out ${PROJECT_SOURCE_DIR}/console/* embedded_console.cpp server/console/assets.hpp
                 latchkey::server::console embedded_files EmbeddedFile NAME "Embedding the console (console/)")
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
