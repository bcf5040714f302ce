/** Stable codes of `@edca/mcp` errors (docs/mcp.md, docs/reason-codes.md). */
export const MCP_ERROR_CODES = [
  'CONFIG_INVALID',
  'CONFIG_UNREADABLE',
  'VIEW_LOADER_MISSING',
  'UPSTREAM_UNKNOWN',
  'APPROVAL_NOT_FOUND',
  'APPROVAL_AMBIGUOUS',
  'APPROVAL_REJECTED',
  'APPROVAL_EXPIRED',
  'APPROVAL_CLOSED',
  'INBOX_UNWRITABLE',
  'HTTP_TOKEN_REQUIRED',
  'HTTP_TOKEN_INVALID',
] as const;

/** One of {@link MCP_ERROR_CODES}. */
export type McpErrorCode = (typeof MCP_ERROR_CODES)[number];

/** The one error class of `@edca/mcp`: misuse and bad configuration, never a model's bad call. */
export class McpError extends Error {
  readonly code: McpErrorCode;
  constructor(code: McpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'McpError';
    this.code = code;
  }
}
