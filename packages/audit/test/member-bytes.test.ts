import { describe, expect, it } from 'vitest';
import { firstObjectMember } from '../src/internal/member-bytes.js';

const MARKER = Buffer.from('"input":');

describe('firstObjectMember', () => {
  describe('when there is no such member or it is not an object', () => {
    it('returns undefined', () => {
      expect(firstObjectMember(Buffer.from('{"a":1}'), MARKER)).toBeUndefined();
      expect(firstObjectMember(Buffer.from('{"input":[1]}'), MARKER)).toBeUndefined();
      expect(firstObjectMember(Buffer.from('{"input":{"a":'), MARKER)).toBeUndefined();
    });
  });
});
