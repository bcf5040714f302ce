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
