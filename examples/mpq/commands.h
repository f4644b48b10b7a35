// Subcommands of the `mpq` command-line tool. Each returns the process exit
// code; errors are thrown as mpq::Error and reported by main with exit code 2.
#pragma once

namespace mpq::cli {

int quant_command(int argc, char** argv);
int summary_command(int argc, char** argv);
int report_command(int argc, char** argv);
int bench_step_command(int argc, char** argv);
int export_command(int argc, char** argv);
int infer_command(int argc, char** argv);
int forward_command(int argc, char** argv);

}  // namespace mpq::cli
