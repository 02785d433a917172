# The emu driver: an embedded x86-64 machine on Unicorn (libunicorn-dev),
# decoding with capstone, loading kernels with libelf.
pkg_check_modules(UNICORN IMPORTED_TARGET unicorn)
pkg_check_modules(CAPSTONE IMPORTED_TARGET capstone)
pkg_check_modules(EMU_LIBELF IMPORTED_TARGET libelf)
find_package(Threads)
if(UNICORN_FOUND AND CAPSTONE_FOUND AND EMU_LIBELF_FOUND AND Threads_FOUND)
  file(GLOB MICROVMI_EMU_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
  list(APPEND MICROVMI_DRIVER_SOURCES ${MICROVMI_EMU_SOURCES})
  list(APPEND MICROVMI_DRIVER_LIBS PkgConfig::UNICORN PkgConfig::CAPSTONE PkgConfig::EMU_LIBELF
       Threads::Threads)
  # Unicorn >= 2.1 honours guest paging: no identity-mapping restriction.
  if(UNICORN_VERSION VERSION_GREATER_EQUAL 2.1)
    list(APPEND MICROVMI_DRIVER_DEFS MICROVMI_EMU_UNICORN_PAGING=1)
  endif()
  set(MICROVMI_DRIVER_EMU_ENABLED ON)
else()
  message(STATUS "emu driver disabled: needs unicorn, capstone and libelf "
                 "(apt-get install libunicorn-dev libcapstone-dev libelf-dev)")
endif()
