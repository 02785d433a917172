# Install libmicrovmi for users: the shared library, <microvmi.h>, a
# pkg-config file and a CMake package (find_package(microvmi) ->
# microvmi::microvmi). Everything is relocatable: `cmake --install --prefix`
# may choose another prefix than the configured one.
include(CMakePackageConfigHelpers)

set(MICROVMI_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/microvmi)

install(TARGETS microvmi EXPORT microvmiTargets COMPONENT microvmi
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/microvmi.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT microvmi)
install(EXPORT microvmiTargets NAMESPACE microvmi:: DESTINATION ${MICROVMI_CMAKE_DIR}
        COMPONENT microvmi)

configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/microvmiConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/microvmiConfig.cmake INSTALL_DESTINATION ${MICROVMI_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/microvmiConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/microvmiConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/microvmiConfigVersion.cmake
        DESTINATION ${MICROVMI_CMAKE_DIR} COMPONENT microvmi)

# pkg-config: the prefix is found from the .pc file's own place.
file(RELATIVE_PATH MICROVMI_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" MICROVMI_PC_TO_PREFIX "${MICROVMI_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/microvmi.pc.in ${CMAKE_CURRENT_BINARY_DIR}/microvmi.pc
               @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/microvmi.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT microvmi)
