// @edca/kernel/testing: the conformance suites of the kernel's ports, so that a third party's
// journal, store or ref registry can prove itself against the same tests as edca's own adapters.
// Each suite takes the test runner's functions (`TestApi`) and imports none itself.
export type { SuiteAssertion, SuiteBody, TestApi } from './test-api.js';
export {
  runJournalSuite,
  expectValidChain,
  suiteDraft,
  type JournalSuiteParams,
  type JournalSuiteHarness,
  type JournalSuiteFactory,
  type SuiteSignerFactory,
} from './journal-suite.js';
export { runStoreSuite, type StoreFixture } from './store-suite.js';
export { runRefRegistrySuite } from './ref-registry-suite.js';
