import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Span,
  type SpanContext,
  type SpanStatus,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { KernelEvents } from '@edca/kernel';
import { agent, makeHarness, type Harness } from './support/harness.js';

// @opentelemetry/sdk-trace-base is not installed here, so the test installs a minimal recording
// tracer through the public API (`trace.setGlobalTracerProvider`), exactly as an SDK would.
interface Recorded {
  name: string;
  attributes: Attributes;
  status?: SpanStatus;
  ended: boolean;
}
const recorded: Recorded[] = [];

class RecordingSpan implements Span {
  constructor(private readonly r: Recorded) {}
  spanContext(): SpanContext {
    return { traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', traceFlags: TraceFlags.SAMPLED };
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.r.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.r.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.r.status = status;
    return this;
  }
  updateName(name: string): this {
    this.r.name = name;
    return this;
  }
  end(): void {
    this.r.ended = true;
  }
  isRecording(): boolean {
    return !this.r.ended;
  }
  recordException(): void {}
}

const tracer: Tracer = {
  startSpan(name: string): Span {
    const r: Recorded = { name, attributes: {}, ended: false };
    recorded.push(r);
    return new RecordingSpan(r);
  },
  startActiveSpan(name: string, ...rest: unknown[]): unknown {
    const fn = rest.at(-1) as (span: Span) => unknown;
    return fn(tracer.startSpan(name));
  },
};
const provider: TracerProvider = { getTracer: () => tracer };

let h: Harness | undefined;
beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
});
afterAll(() => {
  trace.disable();
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  recorded.length = 0;
});

describe('observability', () => {
  describe('when decisions and executions happen', () => {
    it('emits a decision event and an outcome event, and unsubscribes', async () => {
      h = await makeHarness();
      const decisions: KernelEvents['decision'][] = [];
      const outcomes: KernelEvents['outcome'][] = [];
      const offD = h.kernel.on('decision', (d) => decisions.push(d));
      h.kernel.on('outcome', (o) => outcomes.push(o));
      h.kernel.on('decision', () => {
        throw new Error('a buggy listener');
      });
      const d = await h.kernel.decide(
        { intent: 'hold_payment', params: { payment: h.refFor('P-1') } },
        { session: h.session, ...agent },
      );
      await h.kernel.decide({ intent: 'wire_money', params: {} }, { session: h.session, ...agent });
      const r = await h.kernel.execute(d.permit!, { session: h.session });
      expect(decisions.map((x) => [x.intent, x.verdict])).toEqual([
        ['hold_payment', 'permit'],
        ['wire_money', 'refuse'],
      ]);
      expect(decisions[0]!.record).toEqual(d.record);
      expect(outcomes).toEqual([{ ...r, intent: 'hold_payment' }]);
      offD();
      await h.kernel.decide({ intent: 'wire_money', params: {} }, { session: h.session, ...agent });
      expect(decisions).toHaveLength(2);
    });

    it('records OpenTelemetry spans with verdict, rule and status', async () => {
      h = await makeHarness();
      h.bank.faults.set('pay.hold', 'throw');
      const d = await h.kernel.decide(
        { intent: 'hold_payment', params: { payment: h.refFor('P-1') } },
        { session: h.session, ...agent },
      );
      await h.kernel.execute(d.permit!, { session: h.session });
      const decide = recorded.find((s) => s.name === 'edca.decide')!;
      expect(decide).toMatchObject({
        ended: true,
        attributes: {
          'edca.intent': 'hold_payment',
          'edca.verdict': 'permit',
          'edca.rule': 'intents.hold_payment',
          'edca.decision_key': d.decisionKey,
        },
      });
      const execute = recorded.find((s) => s.name === 'edca.execute')!;
      expect(execute).toMatchObject({
        ended: true,
        attributes: { 'edca.status': 'failed' },
        status: { code: 2 },
      });
    });
  });
});
