# Passes only when PATH does not exist (a rejected run must leave nothing behind).
if(EXISTS "${PATH}")
  message(FATAL_ERROR "${PATH} exists: the rejected run wrote it")
endif()
message(STATUS "${PATH} absent, as it should be")
