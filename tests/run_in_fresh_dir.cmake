# Runs PROGRAM with ARGS (space-separated) and --run-dir DIR after removing DIR,
# so that a re-run of the test suite starts from an empty run folder (the
# program refuses to overwrite a run). Prints the program's output (stdout,
# then stderr); fails on a non-zero exit, and when EXPECTED (a regular
# expression) is given, unless stdout + stderr match it. (ctest's own
# PASS_REGULAR_EXPRESSION would ignore the exit code.)
file(REMOVE_RECURSE ${DIR})
separate_arguments(arg_list UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${arg_list} --run-dir ${DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
message("${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "exit ${rc}: ${err}")
endif()
if(DEFINED EXPECTED AND NOT "${out}${err}" MATCHES "${EXPECTED}")
  message(FATAL_ERROR "the output does not match '${EXPECTED}'")
endif()
