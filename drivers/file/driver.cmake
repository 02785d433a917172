# The file driver: raw physical-memory dumps and ELF cores (libelf).
pkg_check_modules(LIBELF IMPORTED_TARGET libelf)
if(LIBELF_FOUND)
  list(APPEND MICROVMI_DRIVER_SOURCES
       ${CMAKE_CURRENT_LIST_DIR}/file.c
       ${CMAKE_CURRENT_LIST_DIR}/file_memory.c
       ${CMAKE_CURRENT_LIST_DIR}/elfcore.c
       ${CMAKE_CURRENT_LIST_DIR}/elfcore_notes.c)
  list(APPEND MICROVMI_DRIVER_LIBS PkgConfig::LIBELF)
  set(MICROVMI_DRIVER_FILE_ENABLED ON)
else()
  message(STATUS "file driver disabled: libelf not found (apt-get install libelf-dev)")
endif()
