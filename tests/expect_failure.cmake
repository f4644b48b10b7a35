# Runs PROGRAM with ARGS (space-separated) and passes only when it exits
# non-zero (EXPECTED_RC exactly, when given) and prints EXPECTED (a plain
# substring) on stderr.
separate_arguments(arg_list UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${arg_list} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "expected a non-zero exit, got 0\nstdout: ${out}\nstderr: ${err}")
endif()
if(DEFINED EXPECTED_RC AND NOT rc EQUAL EXPECTED_RC)
  message(FATAL_ERROR "expected exit ${EXPECTED_RC}, got ${rc}\nstderr: ${err}")
endif()
string(FIND "${err}" "${EXPECTED}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "exit ${rc}, but stderr lacks '${EXPECTED}':\n${err}")
endif()
message(STATUS "exit ${rc}: ${err}")
