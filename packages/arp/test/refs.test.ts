import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ArpError, createMemoryRefRegistry, createRefMinter, REF_PATTERN } from '@edca/arp';
import { TEST_KEY } from './helpers.js';
import { runRefRegistrySuite } from '@edca/kernel/testing';

describe('createRefMinter', () => {
  const minter = createRefMinter(TEST_KEY);

  describe('when minting a ref', () => {
    it('has the fixed shape ref_ + 22 base64url characters', () => {
      expect(minter.mint({ stream: 's', session: 'a' }, { kind: 'account', id: 'ACC-1' })).toMatch(
        REF_PATTERN,
      );
    });

    it('is deterministic for the same stream, session, kind and id', () => {
      const s = { stream: 's', session: 'a' };
      expect(minter.mint(s, { kind: 'account', id: 'ACC-1' })).toBe(
        minter.mint(s, { kind: 'account', id: 'ACC-1' }),
      );
    });

    it('never contains the real id', () => {
      fc.assert(
        fc.property(fc.string({ minLength: 4, maxLength: 30 }), (id) => {
          const ref = minter.mint({ stream: 's', session: 'a' }, { kind: 'account', id });
          expect(ref.slice(4).includes(id)).toBe(false);
        }),
      );
    });
  });

  describe('when the same entity is shown in two sessions', () => {
    it('gets unrelated refs (unlinkable across sessions)', () => {
      const target = { kind: 'account', id: 'ACC-1' };
      const a = minter.mint({ stream: 's', session: 'a' }, target);
      const b = minter.mint({ stream: 's', session: 'b' }, target);
      expect(a).not.toBe(b);
      // No shared prefix beyond chance: the MACs are independent.
      let common = 0;
      while (a[4 + common] === b[4 + common]) common++;
      expect(common).toBeLessThan(4);
    });

    it('differs by stream, by kind and with another key', () => {
      const s = { stream: 's', session: 'a' };
      const t = { kind: 'account', id: '1' };
      const base = minter.mint(s, t);
      expect(minter.mint({ stream: 't', session: 'a' }, t)).not.toBe(base);
      expect(minter.mint(s, { kind: 'card', id: '1' })).not.toBe(base);
      expect(createRefMinter(new Uint8Array(32).fill(8)).mint(s, t)).not.toBe(base);
    });
  });

  describe('when fields could be shifted between each other', () => {
    it('length-prefixes every field, so ("ab","c") and ("a","bc") differ', () => {
      const t = { kind: 'k', id: 'x' };
      expect(minter.mint({ stream: 'ab', session: 'c' }, t)).not.toBe(
        minter.mint({ stream: 'a', session: 'bc' }, t),
      );
      expect(minter.mint({ stream: 's', session: 'a' }, { kind: 'ab', id: 'c' })).not.toBe(
        minter.mint({ stream: 's', session: 'a' }, { kind: 'a', id: 'bc' }),
      );
    });
  });

  describe('when the key is shorter than 32 bytes', () => {
    it('throws ArpError REF_KEY_INVALID', () => {
      expect(() => createRefMinter(new Uint8Array(16))).toThrow(ArpError);
      try {
        createRefMinter(new Uint8Array(31));
      } catch (err) {
        expect((err as ArpError).code).toBe('REF_KEY_INVALID');
      }
    });
  });
});

runRefRegistrySuite({ describe, it, beforeEach, afterEach, expect }, 'in memory', () =>
  createMemoryRefRegistry(),
);

describe('createMemoryRefRegistry', () => {
  describe('when a session is issued more refs than allowed', () => {
    it('throws ArpError SESSION_INVALID instead of growing without bound', () => {
      const reg = createMemoryRefRegistry({ maxRefsPerSession: 2 });
      const s = { stream: 's', session: 'a' };
      reg.issue(s, 'ref_1', { kind: 'k', id: '1' });
      reg.issue(s, 'ref_2', { kind: 'k', id: '2' });
      reg.issue(s, 'ref_2', { kind: 'k', id: '2' });
      expect(() => reg.issue(s, 'ref_3', { kind: 'k', id: '3' })).toThrow(
        expect.objectContaining({ code: 'SESSION_INVALID' }),
      );
    });
  });
});
