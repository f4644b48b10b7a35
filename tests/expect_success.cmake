# Runs PROGRAM with ARGS (space-separated) and passes only when it exits 0 and
# its standard output matches the regular expression EXPECTED.
separate_arguments(arg_list UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${arg_list} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message("${err}")  # verbatim, for ctest's skip and failure patterns
  message(FATAL_ERROR "exit ${rc}\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT out MATCHES "${EXPECTED}")
  message(FATAL_ERROR "stdout does not match '${EXPECTED}':\n${out}")
endif()
message(STATUS "${out}")
