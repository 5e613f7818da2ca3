# Supervision tests: respawn, shutdown, reload, orphans, descriptors and a
# real terminal (DESIGN.md section 4). Included from CMakeLists.txt once both
# binaries exist; proc_test(), proc_timeout and proc_large_timeout come from
# there.
#
# Every executable here kills processes, measures how long a stop takes or
# loads the machine with client loops, so each runs alone (RUN_SERIAL): a
# parallel test stealing the CPU would only make the figures meaningless and
# the bounded waits slower.

add_library(sup_support STATIC sup_fixture.c sup_clients.c)
target_link_libraries(sup_support PUBLIC proc_harness common PkgConfig::CMOCKA
                                      project_options)
# The sanitizer runtime catches a SIGSEGV sent from outside and exits 1
# instead of dying of the signal; the respawn tests accept either there.
if(TCP_SERVER_SANITIZE)
  target_compile_definitions(sup_support PUBLIC SUP_SANITIZE=1)
endif()

function(supervise_test name timeout)
  proc_test(${name} ${timeout})
  target_link_libraries(${name} PRIVATE sup_support)
  set_tests_properties(proc_${name} PROPERTIES RUN_SERIAL TRUE
                                               LABELS "proc;supervise")
endfunction()

# About 5 s (Debug) each, except where noted; the ASan build is 2-4x slower.
supervise_test(test_supervise_respawn ${proc_timeout})
# Uploads and checks a 64 MiB request.
supervise_test(test_supervise_shutdown ${proc_large_timeout})
supervise_test(test_supervise_reload ${proc_timeout})
# Starts and stops 200 servers.
supervise_test(test_supervise_cycles ${proc_large_timeout})
supervise_test(test_supervise_misc ${proc_timeout})
# 400 starts stopped by a signal in their first milliseconds.
supervise_test(test_supervise_signals ${proc_large_timeout})
supervise_test(test_service ${proc_timeout})
# The HAProxy agent and the drain phase of a stop (section 9).
supervise_test(test_supervise_agent ${proc_timeout})
