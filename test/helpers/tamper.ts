/** Tampering tools for the audit tests: each returns a new journal (lines without newlines). */
import {
  decodeRecord,
  digestBytes,
  leafHash,
  MerkleAccumulator,
  sealRecord,
  toBase64url,
  type JsonValue,
  type SignedRecord,
  type Signer,
  type UnsignedRecord,
} from '@edca/records';
import { approvalMessage } from './journal-generator.js';

/** The file text of lines. */
export const toText = (lines: readonly string[]): string => lines.join('\n') + '\n';

/** Flips one bit of the byte at `offset` of the file text. */
export function flipByte(text: string, offset: number, mask = 0x01): Buffer {
  const b = Buffer.from(text, 'utf8');
  b[offset] = b[offset]! ^ mask;
  return b;
}

/** The 1-based line (= seq in an untampered journal) holding byte `offset`. */
export function lineOfOffset(text: string, offset: number): number {
  const b = Buffer.from(text, 'utf8');
  let line = 1;
  for (let i = 0; i < offset; i++) if (b[i] === 0x0a) line++;
  return line;
}

export const deleteLine = (lines: readonly string[], seq: number): string[] =>
  lines.filter((_, i) => i !== seq - 1);

export function swapLines(lines: readonly string[], a: number, b: number): string[] {
  const out = [...lines];
  [out[a - 1], out[b - 1]] = [out[b - 1]!, out[a - 1]!];
  return out;
}

export function duplicateLine(lines: readonly string[], seq: number): string[] {
  const out = [...lines];
  out.splice(seq, 0, lines[seq - 1]!);
  return out;
}

/** Replaces record `seq` by a re-signed copy with `change` applied (other lines untouched). */
export async function resignLine(
  lines: readonly string[],
  seq: number,
  signer: Signer,
  change: (r: SignedRecord) => Partial<UnsignedRecord> = () => ({}),
): Promise<string[]> {
  const rec = decodeRecord(lines[seq - 1]!);
  const { sig: _sig, ...unsigned } = { ...rec, ...change(rec) };
  const sealed = await sealRecord({ ...unsigned, kid: signer.kid }, signer);
  const out = [...lines];
  out[seq - 1] = Buffer.from(sealed.bytes).toString('utf8');
  return out;
}

/** Replaces every string equal to a key of `map` by its value, deep in a JSON value. */
function remap(v: JsonValue, map: ReadonlyMap<string, string>): JsonValue {
  if (typeof v === 'string') return map.get(v) ?? v;
  if (Array.isArray(v)) return v.map((x) => remap(x, map));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, remap(x, map)]));
  }
  return v;
}

/**
 * Rewrites history with a valid kernel key from record `seq` on: `edit` replaces that record's
 * body (or drops the record when it returns null); every later record is renumbered, re-chained
 * and re-signed, references to rewritten records are updated, approval statements are re-signed
 * by `approver`, and every checkpoint is recomputed, so the only thing wrong is what `edit` did.
 * This is what a compromised kernel (with the approver's key too) could write.
 */
export async function rewriteFrom(
  lines: readonly string[],
  seq: number,
  signer: Signer,
  edit: (r: SignedRecord) => { type?: SignedRecord['type']; body: JsonValue } | null,
  approver?: Signer,
): Promise<string[]> {
  const renamed = new Map<string, string>();
  const records = lines.map((l) => decodeRecord(l));
  const acc = new MerkleAccumulator();
  for (let i = 0; i < seq - 1; i++) acc.append(leafHash(Buffer.from(lines[i]!, 'utf8')));
  const out = lines.slice(0, seq - 1);
  let prev = seq === 1 ? null : digestBytes(lines[seq - 2]!);
  for (let i = seq - 1; i < records.length; i++) {
    const r = records[i]!;
    let type = r.type;
    let body = remap(r.body, renamed);
    if (i === seq - 1) {
      const e = edit(r);
      if (e === null) continue;
      type = e.type ?? type;
      body = e.body;
    }
    if (type === 'checkpoint') body = { size: acc.size, root: toBase64url(acc.root()) };
    if (type === 'approval' && approver !== undefined && i !== seq - 1) {
      const b = body as { [k: string]: JsonValue };
      b['sig'] = toBase64url(await approver.sign(approvalMessage(b['statement']!)));
    }
    const sealed = await sealRecord(
      { type, stream: r.stream, seq: out.length + 1, prev, at: r.at, body, kid: signer.kid },
      signer,
    );
    out.push(Buffer.from(sealed.bytes).toString('utf8'));
    acc.append(leafHash(sealed.bytes));
    renamed.set(digestBytes(lines[i]!), sealed.hash);
    prev = sealed.hash;
  }
  return out;
}
