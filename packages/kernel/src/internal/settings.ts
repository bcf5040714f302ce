// The numeric and naming options of `createKernel`, checked once and given their defaults.
import { KernelError } from '../errors.js';
import type { KernelOptions } from '../types.js';
import type { BreakerOptions } from './breaker.js';
import { DEFAULT_LEASE_MS } from './leases.js';
import { DEFAULT_SNAPSHOT_EVERY } from './ledger-journal.js';

/** The checked options every module reads. */
export interface Settings {
  readonly permitTtlMs: number;
  readonly approvalTtlMs: number;
  readonly handlerTimeoutMs: number;
  readonly retries: number;
  readonly breaker: BreakerOptions;
  readonly instance: string;
  /** Records between two ledger snapshots; 0: never. */
  readonly snapshotEvery: number;
  /** How long this instance's lease in the store lasts. */
  readonly leaseMs: number;
}

/**
 * Checks the options a kernel runs by and fills in the defaults.
 * @throws KernelError KERNEL_CONFIG_INVALID for a value out of range
 */
export function settingsOf(options: KernelOptions): Settings {
  const settings: Settings = {
    permitTtlMs: options.permitTtlMs ?? 5 * 60_000,
    approvalTtlMs: options.approvalTtlMs ?? 24 * 60 * 60_000,
    handlerTimeoutMs: options.handlerTimeoutMs ?? 10_000,
    retries: options.retries ?? 2,
    breaker: options.breaker ?? { threshold: 5, cooldownMs: 30_000 },
    instance: options.instance ?? 'default',
    snapshotEvery: options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY,
    leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
  };
  const { instance, retries, snapshotEvery } = settings;
  if (typeof instance !== 'string' || instance.length === 0 || instance.length > 200) {
    throw new KernelError('KERNEL_CONFIG_INVALID', 'instance must be a string of 1..200 characters');
  }
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
    throw new KernelError('KERNEL_CONFIG_INVALID', 'retries must be an integer in 0..10');
  }
  if (!Number.isInteger(snapshotEvery) || snapshotEvery < 0) {
    throw new KernelError('KERNEL_CONFIG_INVALID', 'snapshotEvery must be a non-negative integer');
  }
  for (const name of ['permitTtlMs', 'approvalTtlMs', 'handlerTimeoutMs', 'leaseMs'] as const) {
    const value = settings[name];
    if (!Number.isInteger(value) || value < 1)
      throw new KernelError('KERNEL_CONFIG_INVALID', `${name} must be a positive integer`);
  }
  return settings;
}
