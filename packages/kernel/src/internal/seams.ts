// The types the kernel takes from `@edca/semantic` and `@edca/arp`, in one place.
import type { CompiledIntent, CompiledLimit, CompiledMap } from '@edca/semantic';

export type { AbstractState, DecisionInput, DecisionResult } from '@edca/semantic';
export type { Arp, ArpHandler, ArpSession, PrivateCall, RefRegistry, RefTarget } from '@edca/arp';

/** A compiled map as the kernel uses it. */
export type MapSpec = CompiledMap;
/** A compiled intent. */
export type IntentSpec = CompiledIntent;
/** A compiled limit. */
export type LimitSpec = CompiledLimit;
