import type { CompiledMachine, CompiledMap } from '@edca/semantic';
import { Option, type Command } from 'commander';
import { CliError } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { loadMapFile } from '../map-file.js';

const id = (machine: string, state: string): string => `${machine}__${state}`.replace(/[^A-Za-z0-9_]/g, '_');
const quote = (s: string): string => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/** Mermaid `stateDiagram-v2`: one composite state per machine. */
export function toMermaid(map: CompiledMap, machines: readonly CompiledMachine[]): string {
  const lines = ['stateDiagram-v2', `  %% ${map.name} ${map.version} (${map.digest})`];
  for (const m of machines) {
    lines.push(`  state ${quote(m.name)} as machine_${id(m.name, '').replace(/_+$/, '')} {`);
    for (const s of m.states) lines.push(`    state ${quote(s)} as ${id(m.name, s)}`);
    lines.push(`    [*] --> ${id(m.name, m.initial)}`);
    for (const t of m.transitions) {
      lines.push(
        `    ${id(m.name, t.from)} --> ${id(m.name, t.to)} : ${t.intent}${t.guarded ? ' [guard]' : ''}`,
      );
    }
    for (const s of m.terminal) lines.push(`    ${id(m.name, s)} --> [*]`);
    lines.push('  }');
  }
  return `${lines.join('\n')}\n`;
}

/** Graphviz DOT: one cluster per machine; terminal states are double circles. */
export function toDot(map: CompiledMap, machines: readonly CompiledMachine[]): string {
  const lines = [
    `digraph ${quote(map.name)} {`,
    `  label=${quote(`${map.name} ${map.version}`)}; labelloc=t; rankdir=LR; fontname="Helvetica";`,
    '  node [shape=box, style=rounded, fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];',
  ];
  for (const m of machines) {
    lines.push(`  subgraph ${quote(`cluster_${m.name}`)} {`, `    label=${quote(m.name)};`);
    lines.push(`    ${id(m.name, '_start')} [shape=point, label=""];`);
    for (const s of m.states) {
      lines.push(
        `    ${id(m.name, s)} [label=${quote(s)}${m.terminal.includes(s) ? ', shape=doublecircle, style=""' : ''}];`,
      );
    }
    lines.push(`    ${id(m.name, '_start')} -> ${id(m.name, m.initial)};`);
    for (const t of m.transitions) {
      lines.push(
        `    ${id(m.name, t.from)} -> ${id(m.name, t.to)} [label=${quote(t.intent + (t.guarded ? ' [guard]' : ''))}];`,
      );
    }
    lines.push('  }');
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** `edca graph MAP --format mermaid|dot`: draws the map's machines. */
export function registerGraph(program: Command, io: CliIo): void {
  program
    .command('graph')
    .description("draw the state map's machines and their intent-triggered transitions")
    .argument('<map>', 'state map (YAML or JSON; - for standard input)')
    .addOption(
      new Option('--format <format>', 'output format').choices(['mermaid', 'dot']).default('mermaid'),
    )
    .option('--machine <name>', 'draw only this machine')
    .action((mapPath: string, opts: { format: 'mermaid' | 'dot'; machine?: string }) => {
      const map = loadMapFile(mapPath, io);
      const machines =
        opts.machine === undefined ? map.machines : map.machines.filter((m) => m.name === opts.machine);
      if (machines.length === 0) {
        throw new CliError('MACHINE_UNKNOWN', `${mapPath} declares no machine '${opts.machine ?? ''}'`);
      }
      io.stdout(opts.format === 'dot' ? toDot(map, machines) : toMermaid(map, machines));
    });
}
