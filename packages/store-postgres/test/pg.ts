/**
 * node-postgres for top-level tests, child scripts and benchmarks: `pg` is a dependency of this
 * package, not of the workspace root, so code outside the package reaches it through here.
 */
import pg from 'pg';

export { pg };
