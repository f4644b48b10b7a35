# Resume equivalence: an uninterrupted 2-epoch quantized run and a run killed
# after epoch 1 then resumed must end with bit-identical checkpoints.
# Inputs: PROGRAM, WORK_DIR; COMMON: the program's flags for a small run with
# one float epoch (default: resnet_cifar's); STOP_AFTER: the epochs (float +
# quantized) before the kill, 2 (default: mid quantized phase) or 1 (at the
# float/quantized boundary, where only the resumed process writes float.safetensors);
# RESUME_FLAGS: flags for the resumed process only that must not change the
# result (e.g. imagenet's --workers).
file(REMOVE_RECURSE ${WORK_DIR})
if(DEFINED COMMON)
  set(common ${COMMON} --float-epochs 1 --seed 5)
else()
  set(common --train-limit 256 --test-limit 200 --batch-size 64 --float-epochs 1 --seed 5)
endif()
execute_process(COMMAND ${PROGRAM} ${common} --epochs 2 --run-dir ${WORK_DIR}/a RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "uninterrupted run failed (${rc})")
endif()
if(NOT DEFINED STOP_AFTER)
  set(STOP_AFTER 2)
endif()
if(STOP_AFTER EQUAL 1)
  set(resume_message "resuming float phase after epoch 1")
else()
  set(resume_message "resuming quant phase after epoch 1")
endif()
execute_process(COMMAND ${PROGRAM} ${common} --epochs 2 --run-dir ${WORK_DIR}/b --stop-after ${STOP_AFTER}
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "first half failed (${rc})")
endif()
# Only --resume and --run-dir (and RESUME_FLAGS): every other setting comes
# from the run's config.json.
execute_process(COMMAND ${PROGRAM} --run-dir ${WORK_DIR}/b --resume ${RESUME_FLAGS}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "resumed run failed (${rc})")
endif()
if(NOT out MATCHES "${resume_message}")
  message(FATAL_ERROR "the resumed run did not say '${resume_message}':\n${out}")
endif()
# Settings that disagree with the run's, and reusing a run folder, are refused.
execute_process(COMMAND ${PROGRAM} --resume --run-dir ${WORK_DIR}/b --seed 9 RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "differ from the run's")
  message(FATAL_ERROR "a resume with another seed was not refused (${rc}): ${err}")
endif()
execute_process(COMMAND ${PROGRAM} ${common} --run-dir ${WORK_DIR}/a RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "already holds a run")
  message(FATAL_ERROR "reusing a run folder was not refused (${rc}): ${err}")
endif()
file(SHA256 ${WORK_DIR}/a/last.safetensors ha)
file(SHA256 ${WORK_DIR}/b/last.safetensors hb)
if(NOT ha STREQUAL hb)
  message(FATAL_ERROR "resumed and uninterrupted runs differ (${ha} vs ${hb})")
endif()
# The float network and the per-epoch log agree too.
file(SHA256 ${WORK_DIR}/a/float.safetensors fa)
file(SHA256 ${WORK_DIR}/b/float.safetensors fb)
if(NOT fa STREQUAL fb)
  message(FATAL_ERROR "float.safetensors differs between the resumed and uninterrupted runs")
endif()
file(STRINGS ${WORK_DIR}/a/log.jsonl la)
file(STRINGS ${WORK_DIR}/b/log.jsonl lb)
list(LENGTH la na)
list(LENGTH lb nb)
if(NOT na EQUAL nb)
  message(FATAL_ERROR "log.jsonl has ${na} lines uninterrupted, ${nb} resumed")
endif()
# The quantizer trajectories too (the resumed run mends the file first).
file(SHA256 ${WORK_DIR}/a/trajectory.jsonl ta)
file(SHA256 ${WORK_DIR}/b/trajectory.jsonl tb)
if(NOT ta STREQUAL tb)
  message(FATAL_ERROR "trajectory.jsonl differs between the resumed and uninterrupted runs")
endif()
message(STATUS "resume equivalence: identical checkpoints ${ha}")
