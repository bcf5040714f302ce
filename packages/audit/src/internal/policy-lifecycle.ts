/**
 * The audit's view of policy changes (record format 3): each signed activation statement is
 * checked against the trust file (the owner's `policy-owner` key, its signature, its binding to the
 * record's map and digest; revision order is the ledger fold's), each decision is attributed to the
 * activation that governed it, and each shadow record is checked to be what it claims.
 */
import { digestValue, type Digest, verifyActivation, type RecordBody, type TrustFile } from '@edca/records';
import type { CompiledMap } from '@edca/semantic';
import type { FindingCode } from '../findings.js';
import type { PolicyActivationUse } from '../report.js';
import { describeReplay, replayDecision } from '../replay.js';

type Report = (code: FindingCode, message: string) => void;

interface Activated {
  readonly seq: number;
  readonly map: string;
  readonly policyDigest: string;
  readonly revision: number | null;
  readonly owner: string | null;
  decisions: number;
  firstDecision: number | null;
  lastDecision: number | null;
}

/** Follows activations, decisions and shadows through one verification run. */
export class PolicyLifecycle {
  private readonly activations: Activated[] = [];
  /** The activation in force for each policy digest (the latest one of that digest). */
  private readonly current = new Map<string, Activated>();
  private shadowCount = 0;

  constructor(
    private readonly trust: TrustFile,
    private readonly maps: ReadonlyMap<string, CompiledMap> | undefined,
  ) {}

  /** A `policy.activated` record (already schema-checked). */
  activation(seq: number, body: RecordBody<'policy.activated'>, report: Report): void {
    const { name, policyDigest } = body;
    const signed = body.activation;
    let revision: number | null = null;
    let owner: string | null = null;
    if (signed !== undefined) {
      const check = verifyActivation(signed, this.trust, { map: name, mapDigest: policyDigest as Digest });
      // A mismatch is the ledger fold's finding (it needs no key): not reported twice.
      if (!check.ok && check.code !== 'ACTIVATION_MISMATCH') report(check.code, check.message);
      revision = signed.statement.revision;
      owner = signed.statement.owner.kid;
    }
    const entry: Activated = {
      seq,
      map: name,
      policyDigest,
      revision,
      owner,
      decisions: 0,
      firstDecision: null,
      lastDecision: null,
    };
    this.activations.push(entry);
    this.current.set(policyDigest, entry);
  }

  /** A decision under `policyDigest`: counted against the activation in force for that digest. */
  decision(seq: number, policyDigest: string): void {
    const entry = this.current.get(policyDigest);
    if (entry === undefined) return; // POLICY_DIGEST_UNKNOWN, the fold's finding
    entry.decisions++;
    entry.firstDecision ??= seq;
    entry.lastDecision = seq;
  }

  /**
   * A `shadow` record: its decision key is the digest of its input, the input names the candidate's
   * digest, and with the candidate among the maps it replays to what it says.
   */
  shadow(body: RecordBody<'shadow'>, report: Report): void {
    this.shadowCount++;
    const input = body.input;
    const inputDigest =
      typeof input === 'object' && input !== null && !Array.isArray(input)
        ? input['policyDigest']
        : undefined;
    if (inputDigest !== body.policyDigest) {
      report(
        'SHADOW_INCONSISTENT',
        `the shadow names policy ${body.policyDigest}, its input ${JSON.stringify(inputDigest ?? null)}`,
      );
      return;
    }
    if (digestValue(input) !== body.decisionKey) {
      report('SHADOW_INCONSISTENT', 'the shadow decision key is not the digest of its input');
      return;
    }
    const map = this.maps?.get(body.policyDigest);
    if (map === undefined) return;
    // A shadow waits for no approval: its escalations carry no pendingApproval to compare.
    const replay = replayDecision(map, { ...body, input }, { approvals: false });
    if (replay.differences.length > 0)
      report('REPLAY_MISMATCH', `shadow ${describeReplay(replay.differences)}`);
  }

  /** Every activation in journal order with the decisions it governed. */
  get uses(): PolicyActivationUse[] {
    return this.activations.map((a) => ({ ...a }));
  }

  /** Shadow records seen. */
  get shadows(): number {
    return this.shadowCount;
  }
}
