# The Debian package (CPack DEB): `make package` configures a build with
# -DCMAKE_INSTALL_PREFIX=/usr -DTCP_SERVER_DEB=ON and runs cpack; lintian
# must report no error or warning (`make package-check`).

option(TCP_SERVER_DEB "Install the Debian-only files (changelog.Debian.gz)"
       OFF)
set(TCP_SERVER_PACKAGE_MAINTAINER
    "tcp_server maintainers <tcp-server@example.org>"
    CACHE STRING "Maintainer field of the Debian package")

if(TCP_SERVER_DEB)
  if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    message(FATAL_ERROR "TCP_SERVER_DEB needs -DCMAKE_INSTALL_PREFIX=/usr")
  endif()
  # Debian wants its changelog compressed with no timestamp (-n).
  set(changelog_gz "${PROJECT_BINARY_DIR}/deploy/debian/changelog.Debian.gz")
  add_custom_command(OUTPUT "${changelog_gz}"
    COMMAND ${CMAKE_COMMAND} -E make_directory
            "${PROJECT_BINARY_DIR}/deploy/debian"
    COMMAND gzip -9nc "${PROJECT_SOURCE_DIR}/deploy/debian/changelog"
            > "${changelog_gz}"
    DEPENDS "${PROJECT_SOURCE_DIR}/deploy/debian/changelog" VERBATIM)
  add_custom_target(debian_changelog ALL DEPENDS "${changelog_gz}")
  install(FILES "${changelog_gz}" DESTINATION "${TCP_SERVER_DOCDIR}")
  # Tags that do not apply to a package built outside the Debian archive,
  # each with its reason (docs/deployment.md).
  install(FILES "${PROJECT_SOURCE_DIR}/deploy/debian/lintian-overrides"
          DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides"
          RENAME tcp-server)
endif()

# Directories 0755 in the install and in the package (CPack's default
# 0775 is flagged by lintian); files keep install()'s 0644 / 0755.
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE
    GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    ${CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tcp-server)
set(CPACK_PACKAGE_VENDOR "tcp_server")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${TCP_SERVER_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "prefork TCP server for a small text-transform protocol")
# The extended description; CPack puts the summary above it and indents it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"tcp_server is a supervisor (libuv) that owns the listening socket and keeps
a set of plain blocking worker processes alive: a crashed worker is
replaced at once, SIGHUP reloads the workers without dropping a connection,
and SIGINT or SIGTERM stop gracefully after the exchanges in flight.

The workers answer a binary protocol of pipelined requests (uppercase,
lowercase, reverse, shuffle, random) of up to 128 MiB each. The package
also ships the tcp_client command-line client, the tcp_bench load
generator, manual pages and systemd units.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${TCP_SERVER_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

include(CPack)
