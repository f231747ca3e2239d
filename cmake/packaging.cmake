# What `cmake --install` puts where, and the Debian packages `cpack -G DEB` makes of it.
#   component dev:  headers, libsockserv.a, the CMake package (find_package(sockserv)), sockserv.pc
#   component apps: the programs, their man pages, systemd units for http, tftp and chat
# Nothing here carries this repository's build choices (-Werror, static-pie, sanitizers) into a
# user's build: those are directory options of this project, not properties of the target.

include(CMakePackageConfigHelpers)

set(SOCKSERV_PROGRAMS echo_server chat_server chat_client http_server tftp_server tftp_client)
install(TARGETS ${SOCKSERV_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT apps)

# ---- the CMake package and pkg-config ----
set(SOCKSERV_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sockserv)
install(EXPORT sockservTargets NAMESPACE sockserv:: DESTINATION ${SOCKSERV_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/sockservConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/sockservConfig.cmake INSTALL_DESTINATION ${SOCKSERV_CMAKE_DIR})
# 0.x: a new minor version may change the API, so 0.3 accepts 0.3.* only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sockservConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sockservConfig.cmake ${PROJECT_BINARY_DIR}/sockservConfigVersion.cmake
        DESTINATION ${SOCKSERV_CMAKE_DIR} COMPONENT dev)
# The .pc names its prefix relative to itself, so an install moved (or made with --prefix) still works.
file(RELATIVE_PATH PC_PREFIX_FROM_PCDIR /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${PROJECT_SOURCE_DIR}/cmake/sockserv.pc.in ${PROJECT_BINARY_DIR}/sockserv.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/sockserv.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# ---- man pages, from each program's --help (help2man) ----
find_program(HELP2MAN help2man)
if(HELP2MAN AND SOCKSERV_SANITIZE STREQUAL "")
  set(man_pages "")
  foreach(program ${SOCKSERV_PROGRAMS})
    set(page ${PROJECT_BINARY_DIR}/man/${program}.1)
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section=1 --source=sockserv
              --version-string=${PROJECT_VERSION} --name=${program} --output=${page} $<TARGET_FILE:${program}>
      DEPENDS ${program} VERBATIM)
    list(APPEND man_pages ${page})
  endforeach()
  add_custom_target(man_pages ALL DEPENDS ${man_pages})
  install(FILES ${man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT apps)
elseif(SOCKSERV_SANITIZE STREQUAL "")
  message(STATUS "help2man not found: no man pages (scripts/setup.sh installs it)")
endif()

# ---- systemd units ----
# Made at install time, so ExecStart= names the programs where this install puts them (the
# prefix of `cmake --install --prefix`, or /usr in the Debian package).
install(CODE "
  set(bindir \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  set(unitdir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  file(GLOB units \"${PROJECT_SOURCE_DIR}/systemd/*.in\")
  foreach(unit \${units})
    get_filename_component(name \${unit} NAME_WLE)
    configure_file(\${unit} \${unitdir}/\${name} @ONLY)
    message(STATUS \"Installing: \${unitdir}/\${name}\")
  endforeach()
" COMPONENT apps)

# Each Debian package carries its copyright file in its own doc folder.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/sockserv
        RENAME copyright COMPONENT apps)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libsockserv-dev
        RENAME copyright COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libsockserv-dev
        COMPONENT dev)

# ---- cpack -G DEB: two packages, as Debian splits a library ----
# sockserv: the programs (static executables: they need nothing but glibc's NSS modules of the
# same glibc at run time) and their units; libsockserv-dev: what a project building against the
# framework needs, with the Boost development packages it links.
set(CPACK_PACKAGE_NAME sockserv)
set(CPACK_PACKAGE_VENDOR "sockserv developers")
set(CPACK_PACKAGE_CONTACT "sockserv developers <sockserv-dev@lists.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "C++20 socketserver framework (sockserv)")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL apps dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_APPS_PACKAGE_NAME sockserv)
set(CPACK_DEBIAN_APPS_PACKAGE_SECTION net)
set(CPACK_DEBIAN_APPS_PACKAGE_DEPENDS "libc6 (>= 2.36)")
# CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY first (Debian's one-line summary), then these.
set(CPACK_DEBIAN_APPS_DESCRIPTION "This package has the servers: http_server, a static file server (python3 -m
http.server with keep-alive, ranges, conditional requests and sendfile); tftp_server, TFTP over
UDP (RFC 1350, 2347-2349, 7440) and a list/get/put file service over TCP on the same port;
chat_server, a UDP group chat; their clients; man pages. Each server takes --mode
sync|thread|fork|event and --workers N, and takes its sockets from systemd: sockserv-http,
sockserv-tftp and sockserv-chat .socket and .service units are included.")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libsockserv-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libboost-dev (>= 1.74), libboost-program-options-dev (>= 1.74), libboost-context-dev (>= 1.74), libssl-dev (>= 3.0)")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "cmake (>= 3.22), pkg-config")
set(CPACK_DEBIAN_DEV_DESCRIPTION "A server is a transport (TCP, UDP, Unix stream, Unix datagram) composed with a
concurrency mode (sync, thread, fork, event: epoll loops with fibers) serving a request handler
you subclass, as in Python's socketserver. This package has the headers, the static library, a
CMake package (find_package(sockserv)) and a pkg-config file.")
include(CPack)
