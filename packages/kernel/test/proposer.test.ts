import { describe, expect, it } from 'vitest';
import type { ModelView } from '@edca/arp';
import { createScriptedProposer, type ProposerTurn } from '@edca/kernel';

const view: ModelView = {
  edca_view: 1,
  state: { facets: {}, machines: { card: 'active' } },
  entities: { card: 'ref_AAAAAAAAAAAAAAAAAAAAAA' },
  display: {},
  intents: [],
};
const turn = (n: number): ProposerTurn => ({
  view,
  viewJson: '{}',
  toolFormat: 'json',
  tools: [],
  conversation: [{ role: 'user', content: 'freeze the card' }],
  turn: n,
});

describe('createScriptedProposer', () => {
  describe('when the script holds fixed outputs and functions', () => {
    it('replays them in order, each function seeing the turn it answers', async () => {
      const p = createScriptedProposer({
        modelId: 'scripted-1',
        promptTemplateDigest: `sha256:${'a'.repeat(64)}`,
        script: [
          { kind: 'call', format: 'openai', raw: { choices: [] } },
          (t) => ({
            kind: 'call',
            format: 'json',
            raw: { intent: 'freeze_card', params: { card: t.view.entities['card']!, turn: t.turn } },
          }),
        ],
      });
      expect(p.remaining).toBe(2);
      await expect(p.propose(turn(1))).resolves.toEqual({
        kind: 'call',
        format: 'openai',
        raw: { choices: [] },
      });
      await expect(p.propose(turn(2))).resolves.toEqual({
        kind: 'call',
        format: 'json',
        raw: { intent: 'freeze_card', params: { card: 'ref_AAAAAAAAAAAAAAAAAAAAAA', turn: 2 } },
      });
      expect(p.remaining).toBe(0);
      expect(p.modelId).toBe('scripted-1');
    });
  });

  describe('when the script is exhausted or a step throws', () => {
    it('rejects with RangeError, and with the step error', async () => {
      const p = createScriptedProposer({
        modelId: 'm',
        promptTemplateDigest: 'd',
        script: [
          () => {
            throw new RangeError('the view shows no payment');
          },
        ],
      });
      await expect(p.propose(turn(1))).rejects.toThrow('the view shows no payment');
      await expect(p.propose(turn(2))).rejects.toBeInstanceOf(RangeError);
      await expect(p.propose(turn(2))).rejects.toThrow('the script has no turn 2');
    });
  });
});
