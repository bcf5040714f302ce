// Child of write-failures.test.ts: runs `edca` in-process once per argument list given as JSON in
// argv[2], printing one JSON line per finished case, so the parent sees which case never returned.
import { runCli } from '@edca/cli';
import { captureIo } from '../../../test/helpers/cli-io.js';

const cases = JSON.parse(process.argv[2] ?? '[]') as string[][];
for (const args of cases) {
  const io = captureIo();
  const started = Date.now();
  const code = await runCli(args, io);
  process.stdout.write(`${JSON.stringify({ args, code, stderr: io.err(), ms: Date.now() - started })}\n`);
}
