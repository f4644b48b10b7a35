# `mpq infer MODEL --compare RUN --json OUT` on the short run's export: the
# integer engine must match fake-quant (docs/integer.md section 8): at least
# 99.99% of the activation levels identical layer by layer and none more than
# one step apart, and top-1 agreement on all but at most one image in 200
# (so the test accuracies are within one image too). CMake compares the
# decimals as numbers.
execute_process(COMMAND ${PROGRAM} infer ${MODEL} --compare ${RUN_DIR} --limit 200 --json ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "exit ${rc}\nstdout: ${out}\nstderr: ${err}")
endif()
message(STATUS "${out}")
file(READ ${OUT} json)
string(JSON images GET "${json}" images)
string(JSON agreement GET "${json}" top1_agreement)
string(JSON mismatch GET "${json}" activation_mismatch_fraction)
string(JSON steps GET "${json}" activation_max_steps)
if(NOT images EQUAL 200)
  message(FATAL_ERROR "images ${images}, expected 200")
endif()
if(agreement LESS 0.995)
  message(FATAL_ERROR "top-1 agreement ${agreement} < 0.995")
endif()
if(mismatch GREATER 0.0001)
  message(FATAL_ERROR "activation levels differing per layer: ${mismatch} > 1e-4")
endif()
if(steps GREATER 1)
  message(FATAL_ERROR "activation levels up to ${steps} steps apart")
endif()
