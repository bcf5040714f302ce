// The public API of @edca/records: exact bytes, digests, Ed25519, the record envelope and
// RFC 6962 Merkle proofs. Everything but key-file.ts is pure (no I/O, clock or randomness).
export { RecordsError, type RecordsErrorCode } from './errors.js';
export {
  assertIJson,
  parseJson,
  canonicalize,
  canonicalBytes,
  toFrozenJson,
  isObject,
  DEFAULT_IJSON_LIMITS,
  type JsonValue,
  type IJsonLimits,
} from './ijson.js';
export { sha256, toDigest, digestBytes, digestValue, digestEquals, isDigest, type Digest } from './digest.js';
export { toBase64url, fromBase64url } from './base64url.js';
export { actionHashOf, refsOf } from './action-hash.js';
export {
  DIGEST_PATTERN,
  KID_PATTERN,
  BASE64URL_PATTERN,
  SIG_PATTERN,
  CANONICAL_SIG_PATTERN,
  RFC3339_UTC_PATTERN,
  RECORD_AT_PATTERN,
  SCREAMING_CODE_PATTERN,
  RECORD_SIGNATURE_DOMAIN,
  RECORD_SIGNING_PREFIX,
  APPROVAL_DOMAIN,
  APPROVAL_SIGNING_PREFIX,
  approvalMessage,
  APPROVAL_STATEMENT_MEMBERS,
  APPROVAL_REASON_PATTERN,
  isApprovalStatementShape,
  type ApprovalStatement,
} from './wire.js';
export {
  verifyEd25519,
  isAcceptablePublicKey,
  kidOf,
  createNodeSigner,
  createSodiumSigner,
  createSigner,
  createTweetnaclSigner,
  defaultEd25519Backend,
  isEd25519BackendAvailable,
  sodiumAddonFile,
  privateKeyPemFromSeed,
  publicKeyOf,
  type Signer,
  type Ed25519Backend,
} from './ed25519.js';
export {
  recordBodySchemas,
  RECORD_TYPES,
  isRecordType,
  type RecordType,
  type RecordBody,
} from './record-types.js';
export {
  signRecord,
  sealRecord,
  verifyRecord,
  safeVerifyRecord,
  verifyRecordLine,
  safeVerifyRecordLine,
  verifyRecordHash,
  recordHash,
  encodeRecord,
  decodeRecord,
  checkRecordBody,
  isRecordInstant,
  signingMessage,
  MAX_RECORD_BYTES,
  type UnsignedRecord,
  type SignedRecord,
  type SealedRecord,
  type KeyChoice,
  type Result,
} from './record.js';
export {
  leafHash,
  nodeHash,
  merkleRoot,
  inclusionProof,
  consistencyProof,
  verifyInclusion,
  verifyConsistency,
  MerkleAccumulator,
} from './merkle.js';
export {
  parseTrustFile,
  checkTrustFile,
  findTrustedKey,
  publicKeyOfTrusted,
  trustedKeyFor,
  addTrustedKey,
  serializeTrustFile,
  trustFileSchema,
  TRUST_ROLE_PATTERN,
  type TrustFile,
  type TrustedKey,
} from './trust.js';
export {
  generateKeyPair,
  writePrivateKeyFile,
  loadPrivateKeyFile,
  type GeneratedKeyPair,
} from './key-file.js';
export { parseCanonicalJson } from './canonical-parse.js';
export type { FastPath } from './fast-path.js';
export { resolveWorkerModule, startWorkerModule, type WorkerModuleFile } from './worker-module.js';
export {
  prepareRecord,
  sealChain,
  isChainSigner,
  createWorkerSigner,
  type WorkerSignerOptions,
  type ChainDraft,
  type PreparedRecord,
  type ChainSealedRecord,
  type ChainSigner,
  type SealedChain,
} from './seal-chain.js';
export {
  ACTIVATION_DOMAIN,
  POLICY_OWNER_ROLE,
  activationMessage,
  signActivation,
  verifyActivation,
  signedActivationSchema,
  type ActivationStatement,
  type SignedActivation,
  type ActivationCheck,
  type ActivationCheckCode,
} from './activation.js';
