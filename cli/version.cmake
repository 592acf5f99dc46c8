# Writes gyre_version.h with the current git commit; run at every build so the provenance of
# every file names the commit the executable was built from (the file is rewritten only when
# its content changes, so nothing rebuilds needlessly).
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE GYRE_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE GYRE_GIT_DIRTY OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT GYRE_GIT_COMMIT)
  set(GYRE_GIT_COMMIT unknown)
elseif(GYRE_GIT_DIRTY)
  set(GYRE_GIT_COMMIT "${GYRE_GIT_COMMIT}-modified")
endif()
configure_file(${SRC}/cli/gyre_version.h.in ${DST}/gyre_version.h @ONLY)
