# Run folders, checkpoints, presets and flags a hostile user could hand
# resnet_cifar: each is refused with exit 2 and a message naming the problem,
# and nothing that existed is changed (every file of the run folder keeps its
# hash; a new run folder is not created). Regression tests of issue 14's probe.
# Inputs: PROGRAM (resnet_cifar), EDIT (edit_checkpoint), WORK_DIR.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(common --train-limit 256 --test-limit 200 --batch-size 64 --float-epochs 1 --seed 5)
# A run stopped in its quantized phase: float.safetensors, last.safetensors
# (phase quant, epoch 1), config.json, log.jsonl.
execute_process(COMMAND ${PROGRAM} ${common} --epochs 2 --run-dir ${WORK_DIR}/run --stop-after 2
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the run to tamper with failed (${rc}): ${err}")
endif()

set(failures "")
# The hashes of every file under DIR, as one string.
function(snapshot dir out)
  file(GLOB_RECURSE files RELATIVE ${dir} ${dir}/*)
  list(SORT files)
  set(s "")
  foreach(f ${files})
    file(SHA256 ${dir}/${f} h)
    string(APPEND s "${f}=${h};")
  endforeach()
  set(${out} "${s}" PARENT_SCOPE)
endfunction()
# Runs PROGRAM with the list ARGN; must exit 2 with EXPECTED in stderr and
# leave DIR as it was (or absent, when it was).
function(refused name dir expected)
  set(existed FALSE)
  if(EXISTS ${dir})
    set(existed TRUE)
    snapshot(${dir} before)
  endif()
  execute_process(COMMAND ${PROGRAM} ${ARGN} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  string(FIND "${err}" "${expected}" at)
  set(problem "")
  if(NOT rc EQUAL 2)
    set(problem "exit ${rc}, expected 2")
  elseif(at EQUAL -1)
    set(problem "stderr lacks '${expected}'")
  elseif(existed)
    snapshot(${dir} after)
    if(NOT before STREQUAL after)
      set(problem "the run folder changed:\n  before ${before}\n  after  ${after}")
    endif()
  elseif(EXISTS ${dir} AND NOT IS_DIRECTORY ${dir})
  elseif(EXISTS ${dir})
    set(problem "${dir} was created")
  endif()
  if(problem)
    set(failures "${failures}\n${name}: ${problem}\n  stderr: ${err}" PARENT_SCOPE)
  else()
    message(STATUS "${name}: refused: ${err}")
  endif()
endfunction()
# A copy of the run with last.safetensors edited by `edit_checkpoint ARGN`.
function(tampered name)
  file(COPY ${WORK_DIR}/run/ DESTINATION ${WORK_DIR}/${name})
  execute_process(COMMAND ${EDIT} ${WORK_DIR}/run/last.safetensors ${WORK_DIR}/${name}/last.safetensors ${ARGN}
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "edit_checkpoint ${ARGN} failed: ${err}")
  endif()
endfunction()

# --- resume: last.safetensors that mpq's CRC accepts but that is not this run's
tampered(phase --meta phase=bogus)  # used to restart from scratch over float.safetensors
refused(unknown_phase ${WORK_DIR}/phase "has the phase 'bogus' (expected float or quant)"
        --resume --run-dir ${WORK_DIR}/phase)
tampered(epoch_text --meta epoch=1x)  # used to be std::stoi's bare "stoi"
refused(epoch_not_integer ${WORK_DIR}/epoch_text "metadata 'epoch' is '1x', not an integer"
        --resume --run-dir ${WORK_DIR}/epoch_text)
tampered(epoch_range --meta epoch=7)
refused(epoch_out_of_range ${WORK_DIR}/epoch_range "records epoch 7 of the quant phase, which has 2 epochs"
        --resume --run-dir ${WORK_DIR}/epoch_range)
tampered(epoch_negative --meta epoch=-5)  # used to reach the schedule: "Schedule: negative epoch -5"
refused(epoch_negative ${WORK_DIR}/epoch_negative "records epoch -5 of the quant phase"
        --resume --run-dir ${WORK_DIR}/epoch_negative)
tampered(best --meta best_test_accuracy=high)
refused(best_not_number ${WORK_DIR}/best "metadata 'best_test_accuracy' is 'high', not a finite number"
        --resume --run-dir ${WORK_DIR}/best)
tampered(model --meta model=resnet32)
refused(other_model ${WORK_DIR}/model "was written for model 'resnet32', this run has --model resnet20"
        --resume --run-dir ${WORK_DIR}/model)
tampered(no_momentum --drop optim.p0.momentum)  # used to restart the momentum silently
refused(missing_momentum ${WORK_DIR}/no_momentum "optimizer state 'p0.momentum' is missing"
        --resume --run-dir ${WORK_DIR}/no_momentum)
tampered(f64_momentum --f64 optim.p0.momentum)  # used to be converted
refused(f64_momentum ${WORK_DIR}/f64_momentum "optimizer state 'p0.momentum' is float64"
        --resume --run-dir ${WORK_DIR}/f64_momentum)
tampered(no_weight --drop model.conv1.weight)
refused(missing_weight ${WORK_DIR}/no_weight "missing: conv1.weight"
        --resume --run-dir ${WORK_DIR}/no_weight)

# --- resume: config.json that lacks a setting, has a non-string or a duplicate
file(READ ${WORK_DIR}/run/config.json config)
file(COPY ${WORK_DIR}/run/ DESTINATION ${WORK_DIR}/cfg_missing)
string(JSON edited REMOVE "${config}" batch-size)  # used to take today's default
file(WRITE ${WORK_DIR}/cfg_missing/config.json "${edited}")
refused(config_missing_key ${WORK_DIR}/cfg_missing "lacks the setting 'batch-size'"
        --resume --run-dir ${WORK_DIR}/cfg_missing)
file(COPY ${WORK_DIR}/run/ DESTINATION ${WORK_DIR}/cfg_number)
string(JSON edited SET "${config}" batch-size 64)
file(WRITE ${WORK_DIR}/cfg_number/config.json "${edited}")
refused(config_number ${WORK_DIR}/cfg_number "config.json at /batch-size: expected a string, got a number"
        --resume --run-dir ${WORK_DIR}/cfg_number)
file(COPY ${WORK_DIR}/run/ DESTINATION ${WORK_DIR}/cfg_dup)
string(REGEX REPLACE "^{" "{\"seed\": \"9\", " edited "${config}")  # used to take the last value
file(WRITE ${WORK_DIR}/cfg_dup/config.json "${edited}")
refused(config_duplicate ${WORK_DIR}/cfg_dup "duplicate key 'seed'"
        --resume --run-dir ${WORK_DIR}/cfg_dup)

# --- --float-init files that do not fit: refused before the run folder exists
refused(float_init_quant_phase ${WORK_DIR}/fi_quant "is a checkpoint of the 'quant' phase"
        ${common} --run-dir ${WORK_DIR}/fi_quant --float-init ${WORK_DIR}/run/last.safetensors)
refused(float_init_other_model ${WORK_DIR}/fi_model "was written for model 'resnet20', this run has --model resnet32"
        ${common} --model resnet32 --run-dir ${WORK_DIR}/fi_model --float-init ${WORK_DIR}/run/float.safetensors)
execute_process(COMMAND ${EDIT} ${WORK_DIR}/run/float.safetensors ${WORK_DIR}/relabelled.safetensors --meta model=resnet32)
refused(float_init_does_not_fit ${WORK_DIR}/fi_fit "does not fit --model resnet32"
        ${common} --model resnet32 --run-dir ${WORK_DIR}/fi_fit --float-init ${WORK_DIR}/relabelled.safetensors)

# --- presets, run folders and flags
file(WRITE ${WORK_DIR}/run_dir.ini "[e]\nrun-dir = elsewhere\n")  # used to be ignored
refused(ini_run_dir ${WORK_DIR}/ini_a "'run-dir' cannot be set in an experiment file"
        ${common} --run-dir ${WORK_DIR}/ini_a --config ${WORK_DIR}/run_dir.ini --experiment e)
file(WRITE ${WORK_DIR}/dup.ini "[e]\nepochs = 1\nepochs = 2\n")
refused(ini_duplicate ${WORK_DIR}/ini_b "dup.ini:3: 'epochs' is set twice in [e] (first on line 2)"
        ${common} --run-dir ${WORK_DIR}/ini_b --config ${WORK_DIR}/dup.ini --experiment e)
file(WRITE ${WORK_DIR}/dup_section.ini "[e]\nepochs = 1\n[f]\n[e]\n")
refused(ini_duplicate_section ${WORK_DIR}/ini_c "dup_section.ini:4: section [e] appears twice (first on line 1)"
        ${common} --run-dir ${WORK_DIR}/ini_c --config ${WORK_DIR}/dup_section.ini --experiment e)
file(WRITE ${WORK_DIR}/a_file "not a folder")
refused(run_dir_is_a_file ${WORK_DIR}/a_file "exists and is not a folder" ${common} --run-dir ${WORK_DIR}/a_file)
refused(bits_unused ${WORK_DIR}/bits "--bits has no effect with --mode fixed"
        ${common} --mode fixed --bits 3 --run-dir ${WORK_DIR}/bits)
refused(wbits_unused ${WORK_DIR}/wbits "--wbits has no effect with --mode learned"
        ${common} --wbits 3 --run-dir ${WORK_DIR}/wbits)
# Negative, zero, absurd and non-finite numbers.
set(i 0)
foreach(case "--batch-size 0|--batch-size = 0 is outside" "--batch-size 100000|--batch-size = 100000 is outside"
             "--batch-size 1|--batch-size = 1 is outside" "--epochs -1|--epochs = -1 is outside"
             "--float-epochs 1e9|--float-epochs" "--lr nan|--lr" "--lr inf|--lr" "--lr -0.1|--lr"
             "--float-lr 1e400|--float-lr" "--momentum 1|--momentum" "--weight-decay -1|--weight-decay"
             "--threads -2|--threads" "--threads 99999|--threads" "--seed -1|--seed = -1 is outside"
             "--weight-target -5|--weight-target" "--weight-target nan|--weight-target"
             "--act-max-target lots|--act-max-target" "--lambda nan|--lambda" "--bits 9|--bits"
             "--bits 1|--bits" "--warmup -1|--warmup" "--schedule step:0|step" "--schedule sideways|schedule"
             "--param U7|U7" "--mode half|--mode" "--quantize biases|--quantize" "--optimizer rmsprop|--optimizer"
             "--model resnet21|--model" "--device tpu|tpu" "--stop-after -1|--stop-after"
             "--resume|--resume needs --run-dir" "--experiment x|--experiment needs --config"
             "--config ${WORK_DIR}/none.ini --experiment x|none.ini")
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 flags)
  list(GET parts 1 expected)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  math(EXPR i "${i} + 1")
  set(run_dir_flag --run-dir ${WORK_DIR}/flag_${i})
  if(flags STREQUAL "--resume")
    set(run_dir_flag "")
  endif()
  refused("flag ${case}" ${WORK_DIR}/flag_${i} "${expected}" --train-limit 256 --test-limit 200 ${flags} ${run_dir_flag})
endforeach()

if(failures)
  message(FATAL_ERROR "not refused as they should be:${failures}")
endif()
