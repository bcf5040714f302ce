import type { CliIo } from '@edca/cli';

/** A `CliIo` that collects what a command writes, for in-process CLI tests. */
export function captureIo(): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
    isTty: false,
    out: () => out,
    err: () => err,
  };
}
