import { createMemoryStore } from '@edca/kernel';
import { runStoreSuite } from './store-suite.js';

runStoreSuite('memory', () => Promise.resolve({ store: createMemoryStore() }));
