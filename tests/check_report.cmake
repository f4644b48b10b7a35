# Checks that RUN_DIR/report.html is a well-formed, self-contained page:
# doctype and closing tag, balanced <svg>/<table> elements, the expected
# sections, and no reference to anything outside the file (no scripts, no
# links, no external images; the SVG namespace URI is not a fetch).
file(READ ${RUN_DIR}/report.html html)
foreach(needle "<!DOCTYPE html>" "</html>" "Training curves" "Memory" "Learned bitwidths"
               "Final quantizer parameters" "layer1.0.conv1.weight")
  string(FIND "${html}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "report.html lacks '${needle}'")
  endif()
endforeach()
foreach(tag svg table tr)
  string(REGEX MATCHALL "<${tag}[ >]" opens "${html}")
  string(REGEX MATCHALL "</${tag}>" closes "${html}")
  list(LENGTH opens no)
  list(LENGTH closes nc)
  if(NOT no EQUAL nc OR no EQUAL 0)
    message(FATAL_ERROR "report.html: ${no} <${tag}> but ${nc} </${tag}>")
  endif()
endforeach()
string(REPLACE "http://www.w3.org/2000/svg" "" stripped "${html}")
foreach(bad "<script" "http://" "https://" "src=" "href=")
  string(FIND "${stripped}" "${bad}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "report.html is not self-contained: found '${bad}'")
  endif()
endforeach()
message(STATUS "report.html is well-formed and self-contained")
