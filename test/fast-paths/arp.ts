import fc from 'fast-check';
import { arpFastPaths } from '../../packages/arp/src/internal/fast-paths.js';
import { defineFastPath } from './harness.js';

const whole = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.maxSafeInteger(),
  fc.constantFrom(0, -0, 2 ** 26, 2 ** 27 + 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
);
const scale = fc.oneof(whole, fc.constantFrom(1, 10, 100, 1000, 0.5, 0.01));
const amount = fc.oneof(
  whole,
  fc.integer({ min: -1e12, max: 1e12 }).map((cents) => cents / 100),
  fc.double({ noNaN: true }),
);

defineFastPath({
  name: 'arp.scaleExact',
  pair: arpFastPaths.scaleExact,
  arbitrary: fc.tuple(amount, scale),
  answers: fc.tuple(fc.integer({ min: -1e6, max: 1e6 }), fc.constantFrom(1, 10, 100, 1000)),
  numRuns: 5000,
});

// Identifier-like text: case changes, digits, separators, and letters beyond ASCII.
const word = fc.string({
  unit: fc.constantFrom('a', 'b', 'Z', 'X', 'k', '0', '7', '_', '-', ' ', '.', 'é', 'Ж', 'ǅ', '\u0301', '𝒜'),
  maxLength: 24,
});
const ascii = fc.string({ unit: 'grapheme-ascii', maxLength: 40 });

defineFastPath({
  name: 'arp.tokens',
  pair: arpFastPaths.tokens,
  arbitrary: fc.tuple(fc.oneof(word, ascii)),
  answers: fc.tuple(ascii),
  numRuns: 3000,
});
