export { runCli, createProgram } from './program.js';
export { EXIT, CliError, type ExitCode } from './exit-codes.js';
export { type CliIo, processIo } from './io.js';
export { defineRunConfig, type RunConfig } from './run-config.js';
