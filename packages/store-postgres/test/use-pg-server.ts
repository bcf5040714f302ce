/**
 * The PostgreSQL server of one test file, as a Vitest fixture: `usePgServer()` at the top of a file
 * starts a server before the file's first test and stops it (dropping every database it created)
 * after its last. It lives apart from `pg-server.ts` so the benchmarks can start servers without
 * importing Vitest.
 */
import { afterAll, beforeAll } from 'vitest';
import { PG_HOOK_TIMEOUT, startPgServer, type PgServer, type StartPgServerOptions } from './pg-server.js';

/**
 * Registers the hooks that start and stop this file's server, and returns a handle to it. The
 * handle reaches the server only from hooks registered after this call and from tests; before the
 * server started it throws. Hooks the file registers later run after the server started, and their
 * `afterAll` before it stops (Vitest runs after-hooks in reverse order).
 */
export function usePgServer(options: StartPgServerOptions = {}): PgServer {
  let server: PgServer | undefined;
  const running = (): PgServer => {
    if (server === undefined)
      throw new Error('the test PostgreSQL server is not started yet: use it in a hook or a test');
    return server;
  };
  beforeAll(async () => {
    server = await startPgServer(options);
  }, PG_HOOK_TIMEOUT);
  afterAll(async () => {
    await server?.stop();
    server = undefined;
  }, PG_HOOK_TIMEOUT);
  return {
    get adminUrl() {
      return running().adminUrl;
    },
    get external() {
      return running().external;
    },
    createDatabase: (prefix) => running().createDatabase(prefix),
    crash: () => running().crash(),
    stop: () => running().stop(),
  };
}
