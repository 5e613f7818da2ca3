# Install layout (DESIGN.md section 8, docs/deployment.md), included at the
# end of the top-level CMakeLists.txt. The per-target install() rules sit
# next to each target: tcp_server, tcp_client, tcp_bench in bin/, the
# worker and the tcp_echo baseline in libexec/tcp-server/. This file adds
# what belongs to no target: man pages, docs, systemd units, and the
# relative path the supervisor uses to find its worker.

set(TCP_SERVER_PKGLIBEXECDIR "${CMAKE_INSTALL_LIBEXECDIR}/tcp-server")
set(TCP_SERVER_DOCDIR "${CMAKE_INSTALL_DATAROOTDIR}/doc/tcp-server"
    CACHE PATH "Documentation directory (relative to the prefix)")

# The supervisor finds its worker at <dir of tcp_server>/<this>/, so an
# installed tree still works after it has been moved to another prefix
# (supervisor/main.c find_worker). Relocation needs bindir and libexecdir
# both relative to the prefix.
if(IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}"
   OR IS_ABSOLUTE "${CMAKE_INSTALL_LIBEXECDIR}")
  message(WARNING "absolute CMAKE_INSTALL_BINDIR or CMAKE_INSTALL_LIBEXECDIR:"
                  " an installed tcp_server cannot be moved to another prefix")
endif()
file(RELATIVE_PATH TCP_SERVER_WORKER_RELDIR "${CMAKE_INSTALL_FULL_BINDIR}"
     "${CMAKE_INSTALL_FULL_LIBEXECDIR}/tcp-server")
target_compile_definitions(tcp_server PRIVATE
  TCP_SERVER_WORKER_RELDIR="${TCP_SERVER_WORKER_RELDIR}")

# systemd's unit directory: where systemd.pc says when installing to /usr
# (Debian 12: /lib/systemd/system), else lib/systemd/system under the prefix
# (systemd also reads /usr/local/lib/systemd/system), so a non-/usr install
# never writes outside its prefix.
if(NOT DEFINED TCP_SERVER_SYSTEMD_UNITDIR)
  set(unitdir "lib/systemd/system")
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    pkg_get_variable(pc_unitdir systemd systemdsystemunitdir)
    if(pc_unitdir)
      set(unitdir "${pc_unitdir}")
    endif()
  endif()
  set(TCP_SERVER_SYSTEMD_UNITDIR "${unitdir}" CACHE PATH
      "systemd system unit directory (relative: under the prefix)")
endif()

# Man pages, gzip-compressed (Debian policy; man-db reads them either way).
set(man_pages tcp_server.1 tcp_client.1 tcp_bench.1 tcp_server-protocol.7)
set(man_gz "")
foreach(page IN LISTS man_pages)
  set(src "${PROJECT_SOURCE_DIR}/man/${page}")
  set(out "${PROJECT_BINARY_DIR}/man/${page}.gz")
  add_custom_command(OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${PROJECT_BINARY_DIR}/man"
    COMMAND gzip -9nc "${src}" > "${out}"
    DEPENDS "${src}" VERBATIM)
  string(REGEX MATCH "[0-9]$" section "${page}")
  install(FILES "${out}" DESTINATION "${CMAKE_INSTALL_MANDIR}/man${section}")
  list(APPEND man_gz "${out}")
endforeach()
add_custom_target(man_pages ALL DEPENDS ${man_gz})

# systemd units, with ExecStart pointing at the installed tcp_server. The
# files in deploy/systemd/ say /usr/bin/tcp_server (the Debian package).
foreach(unit tcp-server.service tcp-server.socket)
  file(READ "${PROJECT_SOURCE_DIR}/deploy/systemd/${unit}" text)
  string(REPLACE "=/usr/bin/tcp_server" "=${CMAKE_INSTALL_FULL_BINDIR}/tcp_server"
         text "${text}")
  file(CONFIGURE OUTPUT "${PROJECT_BINARY_DIR}/deploy/systemd/${unit}"
       CONTENT "${text}" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/deploy/systemd/${unit}"
          DESTINATION "${TCP_SERVER_SYSTEMD_UNITDIR}")
endforeach()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  "${PROJECT_SOURCE_DIR}/deploy/systemd/tcp-server.service"
  "${PROJECT_SOURCE_DIR}/deploy/systemd/tcp-server.socket")

# Documentation for users and operators, and the license.
install(FILES README.md DESTINATION "${TCP_SERVER_DOCDIR}")
install(FILES docs/deployment.md docs/operations.md docs/protocol.md
              docs/security.md
        DESTINATION "${TCP_SERVER_DOCDIR}")
install(FILES deploy/debian/copyright DESTINATION "${TCP_SERVER_DOCDIR}")
