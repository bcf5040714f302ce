// The README's tour runs as written: its state map compiles and its embedding snippet, extracted
// verbatim (only the two file paths pointed at a temp directory), freezes a card through the real
// kernel and journal. If the README and the code drift apart, this test fails.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '@edca/cli';
import { loadStateMap } from '@edca/semantic';
import { captureIo } from './helpers/cli-io.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const work = join(root, '.tmp', `readme-embed-${process.pid}`);

/** The fenced block right after `<!-- readme-test:NAME -->`. */
function block(name: string): string {
  const marker = `<!-- readme-test:${name} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README has no ${marker}`);
  const fence = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at + marker.length));
  if (!fence?.[1]) throw new Error(`no code block after ${marker}`);
  return fence[1];
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('README', () => {
  describe('when its state map is compiled', () => {
    it('is a valid map with the one intent the tour uses', () => {
      const loaded = loadStateMap(block('cards.yaml'), 'cards.yaml');
      expect(loaded.ok && loaded.value.intentNames).toEqual(['freeze_card']);
    });
  });

  describe('when compared with examples/embed', () => {
    it('the example runs the same embedding code and map as the README shows', () => {
      const example = (f: string): string => readFileSync(join(root, 'examples', 'embed', f), 'utf8');
      expect(example('embed.ts')).toBe(block('embed.ts'));
      expect(example('cards.yaml')).toBe(block('cards.yaml'));
    });

    it('points every @edca package of the workspace at its packed tarball', () => {
      // A package the example does not override would be looked up on the registry, where it is not.
      const pkg = JSON.parse(readFileSync(join(root, 'examples', 'embed', 'package.json'), 'utf8')) as {
        pnpm: { overrides: Record<string, string> };
      };
      const names = readdirSync(join(root, 'packages')).filter((n) =>
        existsSync(join(root, 'packages', n, 'package.json')),
      );
      expect(Object.keys(pkg.pnpm.overrides).sort()).toEqual(names.map((n) => `@edca/${n}`).sort());
      for (const n of names)
        expect(pkg.pnpm.overrides[`@edca/${n}`]).toBe(`file:tarballs/edca-${n}-0.1.0.tgz`);
    });
  });

  describe('when its embedding snippet runs', () => {
    it('permits, journals and executes the freeze proposed by the model', async () => {
      mkdirSync(work, { recursive: true });
      const mapPath = join(work, 'cards.yaml');
      const journalPath = join(work, 'edca.journal');
      writeFileSync(mapPath, block('cards.yaml'));
      const snippet = block('embed.ts');
      expect(snippet.split("'cards.yaml'").length).toBe(3);
      expect(snippet).toContain("'edca.journal'");
      expect(snippet).toContain("'keys/kernel.key.pem'");
      // The quickstart's first step: `edca keygen --out keys`.
      expect(await runCli(['keygen', '--out', join(work, 'keys')], captureIo())).toBe(0);
      const code =
        snippet
          .replaceAll("'cards.yaml'", JSON.stringify(mapPath))
          .replace("'keys/kernel.key.pem'", JSON.stringify(join(work, 'keys', 'kernel.key.pem')))
          .replace("'edca.journal'", JSON.stringify(journalPath)) + '\nexport { cards, decision, result };\n';
      const file = join(work, 'embed.ts');
      writeFileSync(file, code);
      const mod = (await import(pathToFileURL(file).href)) as {
        cards: Map<string, { CARD_STATUS_CD: string }>;
        decision: { verdict: string; reasons: readonly string[] };
        result: { status: string };
      };
      expect(mod.decision).toMatchObject({ verdict: 'permit', reasons: ['ALLOWED'] });
      expect(mod.result.status).toBe('completed');
      expect(mod.cards.get('tok_4f9a1c22e7')?.CARD_STATUS_CD).toBe('BLK_TMP');
      const types = readFileSync(journalPath, 'utf8')
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { type: string }).type);
      // Checkpoints (signed Merkle roots) may follow; the action's own records come in this order.
      expect(types.filter((t) => t !== 'checkpoint')).toEqual([
        'policy.activated',
        'decision',
        'attempt',
        'outcome',
      ]);
    });
  });
});
