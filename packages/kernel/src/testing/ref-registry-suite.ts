import type { RefRegistry } from '@edca/arp';
import type { TestApi } from './test-api.js';

/**
 * The shared suite every {@link RefRegistry} adapter must pass (the in-memory one here; a shared
 * store for many kernel instances runs the same suite).
 */
export function runRefRegistrySuite(t: TestApi, name: string, factory: () => RefRegistry): void {
  const { describe, it, expect } = t;
  describe(`RefRegistry: ${name}`, () => {
    describe('when a ref was issued to one session', () => {
      it('resolves there and nowhere else', () => {
        const reg = factory();
        reg.issue({ stream: 's', session: 'a' }, 'ref_x', { kind: 'account', id: '1' });
        expect(reg.lookup({ stream: 's', session: 'a' }, 'ref_x')).toEqual({ kind: 'account', id: '1' });
        expect(reg.lookup({ stream: 's', session: 'b' }, 'ref_x')).toBeUndefined();
        expect(reg.lookup({ stream: 't', session: 'a' }, 'ref_x')).toBeUndefined();
      });

      it('keeps stream and session apart even when their concatenations agree', () => {
        const reg = factory();
        reg.issue({ stream: 'a:b', session: 'c' }, 'ref_x', { kind: 'k', id: '1' });
        expect(reg.lookup({ stream: 'a', session: 'b:c' }, 'ref_x')).toBeUndefined();
      });
    });

    describe('when the same ref is issued twice', () => {
      it('is idempotent', () => {
        const reg = factory();
        const s = { stream: 's', session: 'a' };
        reg.issue(s, 'ref_x', { kind: 'k', id: '1' });
        reg.issue(s, 'ref_x', { kind: 'k', id: '1' });
        expect(reg.lookup(s, 'ref_x')).toEqual({ kind: 'k', id: '1' });
      });
    });

    describe('when a ref was never issued', () => {
      it('resolves to nothing', () => {
        expect(factory().lookup({ stream: 's', session: 'a' }, 'ref_AAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
      });
    });
  });
}
