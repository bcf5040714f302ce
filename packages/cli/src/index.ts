export { runCli, createProgram } from './program.js';
export { EXIT, CliError, type ExitCode } from './exit-codes.js';
export { type CliIo, processIo } from './io.js';
