import { stateMapJsonSchema } from '@edca/semantic';
import type { Command } from 'commander';
import { CliError } from '../exit-codes.js';
import type { CliIo } from '../io.js';

/** Documents `edca schema` can describe, and how. */
const DOCUMENTS: Readonly<Record<string, () => unknown>> = { 'state-map': stateMapJsonSchema };

/** `edca schema state-map`: prints the JSON Schema of a document format (for editors). */
export function registerSchema(program: Command, io: CliIo): void {
  program
    .command('schema')
    .description(
      'print the JSON Schema of a document format, e.g. `edca schema state-map > state-map.schema.json`',
    )
    .argument('<document>', `the document format: ${Object.keys(DOCUMENTS).join(', ')}`)
    .action((document: string) => {
      const make = Object.prototype.hasOwnProperty.call(DOCUMENTS, document)
        ? DOCUMENTS[document]
        : undefined;
      if (make === undefined)
        throw new CliError(
          'USAGE',
          `unknown document format '${document}' (one of: ${Object.keys(DOCUMENTS).join(', ')})`,
        );
      io.stdout(`${JSON.stringify(make(), null, 2)}\n`);
    });
}
