// The per-step trace of a governed model session (`edca run`, and `edca demo --model`): what the
// model saw, what it proposed, intake's or the kernel's answer, what executed, and what the model
// was told; the same layout as the scripted demo's steps.
import type { ModelView } from '@edca/arp';
import type { ProposerOutput } from '@edca/kernel';
import type { SessionEvent, SessionSummary } from '@edca/models';
import type { CliIo } from '../io.js';

const LINE_MAX = 108;

function short(ref: string): string {
  return ref.length > 12 ? `${ref.slice(0, 12)}…` : ref;
}

function clip(text: string, max = 160): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The tool name and arguments of a raw output, for display only (intake decides what it is). */
export function describeOutput(out: ProposerOutput): string {
  if (out.kind === 'plan') return `a plan of ${out.steps.length} steps`;
  let value: unknown = out.raw;
  if (typeof out.raw === 'string') {
    try {
      value = JSON.parse(out.raw) as unknown;
    } catch {
      return `(not JSON) ${clip(out.raw)}`;
    }
  }
  const o = (v: unknown): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const calls: string[] = [];
  const add = (name: unknown, args: unknown): void => {
    let a = args;
    if (typeof a === 'string') {
      try {
        a = JSON.parse(a) as unknown;
      } catch {
        // shown as sent; intake refuses malformed arguments with its own code
      }
    }
    const shown = JSON.stringify(a ?? {}, (_k, v: unknown) =>
      typeof v === 'string' && /^ref_[A-Za-z0-9_-]{22}$/.test(v) ? short(v) : v,
    );
    calls.push(`${String(name)} ${clip(shown ?? '')}`);
  };
  const root = o(value);
  if (out.format === 'json') add(root['intent'], root['params']);
  for (const choice of Array.isArray(root['choices']) ? root['choices'] : []) {
    const toolCalls = o(o(choice)['message'])['tool_calls'];
    for (const c of Array.isArray(toolCalls) ? toolCalls : [])
      add(o(o(c)['function'])['name'], o(o(c)['function'])['arguments']);
  }
  for (const item of Array.isArray(root['output']) ? root['output'] : []) {
    if (o(item)['type'] === 'function_call') add(o(item)['name'], o(item)['arguments']);
  }
  for (const block of Array.isArray(root['content']) ? root['content'] : []) {
    if (o(block)['type'] === 'tool_use') add(o(block)['name'], o(block)['input']);
  }
  return calls.length === 0 ? '(no tool call)' : calls.join(' + ');
}

function viewLine(view: ModelView): string {
  const machines = Object.entries(view.state.machines).map(([k, v]) => `${k}=${v}`);
  const refs = Object.entries(view.entities).map(([k, r]) => `${k}=${short(r)}`);
  const intents = view.intents.map((i) => i.name);
  const untrusted = view.untrusted?.length ?? 0;
  return [
    ...machines,
    `· refs ${refs.join(' ') || '(none)'}`,
    `· intents ${intents.join(' ') || '(none)'}`,
    ...(untrusted > 0 ? [`· ${untrusted} untrusted text`] : []),
  ].join(' ');
}

/** Breaks a long step line at spaces, continuing under the text after its label. */
export function foldTraceLine(line: string): string[] {
  if (line.length <= LINE_MAX) return [line];
  const label = /^(.*?\S\s{2,})/.exec(line);
  const indent = ' '.repeat(label ? label[1]!.length : 6);
  const out: string[] = [];
  let rest = line;
  while (rest.length > LINE_MAX) {
    const cut = rest.lastIndexOf(' ', LINE_MAX);
    if (cut <= indent.length) break;
    out.push(rest.slice(0, cut));
    rest = indent + rest.slice(cut + 1);
  }
  out.push(rest);
  return out;
}

/** A session's `onEvent` that prints each step to `io` as it happens. */
export function createSessionTrace(io: CliIo): (event: SessionEvent) => void {
  const say = (...lines: string[]): void => {
    for (const line of lines) for (const part of foldTraceLine(line)) io.stdout(`${part}\n`);
  };
  let view: ModelView | undefined;
  return (e) => {
    switch (e.kind) {
      case 'view':
        view = e.view;
        say(
          `   the model sees (${Buffer.byteLength(e.json)} bytes of canonical JSON, leak-checked):`,
          `     ${viewLine(e.view)}`,
        );
        return;
      case 'model': {
        const usage = e.usage ? ` · ${e.usage.inputTokens}+${e.usage.outputTokens} tokens` : '';
        const tries = e.tries > 1 ? ` · after ${e.tries} tries` : '';
        say('', `  ${String(e.turn).padStart(2)} ▸ ${e.output.format} output${usage}${tries}`);
        if (view) say(`     saw       ${viewLine(view)}`);
        say(`     proposes  ${describeOutput(e.output)}`);
        if (e.text !== undefined && e.text !== '') say(`     says      "${clip(e.text)}"`);
        return;
      }
      case 'model-error':
        say(
          `     model     ${e.code} on try ${e.try}` +
            (e.retryInMs === undefined ? ' (not retried)' : `; retry in ${e.retryInMs} ms`),
        );
        return;
      case 'intake-refused':
        say(
          `     decision  refuse · ${e.code} · arp.intake`,
          `     executed  nothing: refused at intake, before the kernel (journaled as intake.refused, seq ${e.record.seq})`,
        );
        return;
      case 'decision': {
        const d = e.decision;
        const where = d.record ? `journal seq ${d.record.seq}` : 'not journaled';
        const acc = d.accountable ? `, accountable ${d.accountable}` : '';
        say(`     decision  ${d.verdict} · ${d.reasons.join(', ')} · rule ${d.rule} (${where}${acc})`);
        if (d.verdict === 'refuse') say('     executed  nothing');
        if (d.verdict === 'escalate')
          say(
            `     executed  nothing yet: waits for ${d.approval?.required.count ?? '?'} ${d.approval?.required.role ?? 'approver'}`,
          );
        return;
      }
      case 'execution': {
        const r = e.result;
        if (r.status === 'refused') {
          say(`     executed  nothing: ${r.code}`);
          return;
        }
        const t = r.transition ? `; ${r.transition.machine} ${r.transition.from} → ${r.transition.to}` : '';
        say(
          `     executed  → ${r.status}${r.error ? ` ${r.error.code}` : ''}${t} (attempt and outcome journaled)`,
        );
        return;
      }
      case 'told':
        if (e.turn > 0) say(`     model is told  ${e.summary}`);
        return;
      case 'ended':
        say('', ...summaryLines(e.summary));
        return;
      default:
        return e satisfies never;
    }
  };
}

/** The closing lines of a session: why it ended and what it consumed. */
export function summaryLines(s: SessionSummary): string[] {
  const cost = s.cost ? `, cost ${(s.cost.micros / 1e6).toFixed(6)} ${s.cost.currency}` : '';
  return [
    `   session ended: ${s.reason}${s.error ? ` (${s.error})` : ''} after ${s.turns} turn(s); ` +
      `tokens ${s.tokens.input} in + ${s.tokens.output} out${cost}`,
    `   refusals: ${s.refusals.intake} at intake, ${s.refusals.kernel} by the kernel; decisions: ` +
      `${s.decisions.permit} permit, ${s.decisions.refuse} refuse, ${s.decisions.escalate} escalate ` +
      `(session.ended journaled at seq ${s.record.seq})`,
  ];
}
