/**
 * Where the journal core keeps the lines it signs on the kernel's own thread.
 *
 * A signed line outlives its append: the ledger keeps a live permit's line instead of its body,
 * until the permit ends (minutes). Node's small buffers are slices of shared 8 KiB pool slabs,
 * which also hold the short-lived buffers of sealing (the signing message, the unsigned text), so
 * a kept line pinned a slab several times its size and every slab it touched survived into the
 * old generation. Lines copied here sit next to each other in chunks that hold nothing else, as
 * the worker signer's batches do, and consecutive lines form one view the sink writes as it is.
 */

/**
 * Size of a fresh chunk; a longer line gets a chunk of its own length. A chunk stays alive while
 * any line in it does, so one long-lived permit among short-lived records pins a whole chunk: a
 * few records' worth (about seven permits) bounds that, and still writes most of a group as one
 * buffer.
 */
export const LINE_CHUNK_BYTES = 16 * 1024;

const NEWLINE = 0x0a;

/** A line copied into the arena: the record's bytes, and the same bytes with the newline after them. */
export interface ArenaLine {
  /** The record's line, no newline (the exact signed bytes). */
  readonly bytes: Uint8Array;
  /** `bytes` followed by a newline, one view over the same memory (what the sink writes). */
  readonly withNewline: Uint8Array;
}

/** Packs lines into dedicated chunks (see the module comment). */
export class LineArena {
  #chunk: Buffer = Buffer.alloc(0);
  #used = 0;

  /** Copies `line` and a newline into the current chunk (or a new one) and returns views of the copy. */
  add(line: Uint8Array): ArenaLine {
    const need = line.length + 1;
    if (this.#chunk.length - this.#used < need) {
      // Not from Node's pool: the chunk is exactly the memory the kept lines pin.
      this.#chunk = Buffer.allocUnsafeSlow(Math.max(LINE_CHUNK_BYTES, need));
      this.#used = 0;
    }
    const start = this.#used;
    this.#chunk.set(line, start);
    this.#chunk[start + line.length] = NEWLINE;
    this.#used += need;
    return {
      bytes: this.#chunk.subarray(start, start + line.length),
      withNewline: this.#chunk.subarray(start, start + need),
    };
  }
}

/**
 * Appends `view` to `chunks`, merging it into the last chunk when it continues that chunk in the
 * same memory, so a group of lines from one arena chunk is written as one buffer without a copy.
 */
export function pushContiguous(chunks: Uint8Array[], view: Uint8Array): void {
  const last = chunks[chunks.length - 1];
  if (
    last !== undefined &&
    last.buffer === view.buffer &&
    last.byteOffset + last.length === view.byteOffset
  ) {
    chunks[chunks.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.length + view.length);
    return;
  }
  chunks.push(view);
}
