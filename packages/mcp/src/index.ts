/**
 * `@edca/mcp`: edca as an MCP server, and as a governing gateway in front of other MCP servers.
 * The agent sees the map's intents as tools and never the schema; every call is decided by the
 * kernel and journaled before anything runs.
 * @packageDocumentation
 */
export { McpError, MCP_ERROR_CODES, type McpErrorCode } from './errors.js';
export {
  APPROVAL_URI_PREFIX,
  createEdcaMcpServer,
  VIEW_URI_PREFIX,
  type EdcaMcpServer,
  type EdcaMcpServerOptions,
  type McpApprovalResult,
  type McpPrincipal,
  type McpSessionHandle,
  type ViewLoader,
} from './server.js';
export {
  defineServer,
  loadServerConfig,
  type LoadedConfig,
  type OpenedStorage,
  type ServerConfig,
  type UpstreamRead,
} from './config.js';
export { openServerRuntime, type RuntimeOptions, type ServerRuntime } from './runtime.js';
export {
  checkHttpOptions,
  HTTP_TOKEN_PATTERN,
  serveHttp,
  serveStdio,
  type HttpEndpoint,
  type HttpOptions,
} from './transports.js';
export { HTTP_REFUSAL_CODES, type HttpRefusalCode } from './http-session.js';
export {
  MAX_STDIO_LINE_BYTES,
  STDIO_REFUSAL_CODES,
  StdioSession,
  type StdioRefusalCode,
  type StdioSessionOptions,
} from './stdio-session.js';
export { nodeHttpFetch, type NodeHttpFetch, type NodeHttpFetchOptions } from './node-fetch.js';
export {
  createUpstreams,
  parseUpstreamRef,
  upstreamHandler,
  UpstreamFailure,
  type UpstreamFailureCode,
  type UpstreamSpec,
  type Upstreams,
} from './upstream.js';
export {
  findPendingApproval,
  journalApprovals,
  pendingApprovals,
  watchApprovalInbox,
  writeApprovalToInbox,
  type InboxWatcher,
  type JournalApprovalStatus,
  type PendingApprovalInfo,
} from './approvals.js';
