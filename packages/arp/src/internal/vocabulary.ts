import type { CompiledMap, StateMapDocument } from '@edca/semantic';
import type { PrivateTerm } from './leak-guard.js';

/**
 * Collects the private vocabulary from the map: source names, source field names and enum codes
 * at every depth (nested objects, list items),
 * route handler names, real target fields and real enum codes of routes, plus any word the
 * compiled map itself declares private. Nothing here is configured by hand, so a new source
 * field is guarded the moment it is added to the map.
 */
export function privateTermsOf(map: CompiledMap): PrivateTerm[] {
  const doc = map.document;
  const terms: PrivateTerm[] = [];
  for (const [source, decl] of Object.entries(doc.sources)) {
    terms.push({ term: source, category: 'source' });
    for (const [field, f] of Object.entries(decl.fields)) fieldTerms(field, f, terms);
  }
  for (const route of Object.values(doc.routes)) {
    terms.push({ term: route.handler, category: 'handler' });
    for (const p of Object.values(route.params ?? {})) {
      terms.push({ term: p.field, category: 'route_target' });
      for (const code of Object.values(p.values ?? {})) terms.push({ term: code, category: 'enum_code' });
    }
  }
  for (const word of map.privateVocabulary) terms.push({ term: word, category: 'map' });
  return terms;
}

type FieldDecl = StateMapDocument['sources'][string]['fields'][string];

/** A field's name, and at every depth the names of nested and list-item fields and their enum codes. */
function fieldTerms(name: string | undefined, f: FieldDecl, terms: PrivateTerm[]): void {
  if (name !== undefined) terms.push({ term: name, category: 'source_field' });
  if (f.type === 'enum') for (const code of f.values) terms.push({ term: code, category: 'enum_code' });
  if (f.type === 'object') for (const [n, sub] of Object.entries(f.fields)) fieldTerms(n, sub, terms);
  if (f.type === 'list') fieldTerms(undefined, f.items, terms);
}

/** Every text the map publishes on purpose (names and values the model is meant to see). */
export function publicTextsOf(map: CompiledMap): string[] {
  const doc = map.document;
  const out: string[] = [];
  for (const [facet, values] of Object.entries(map.facetValues)) out.push(facet, ...values);
  for (const m of map.machines) out.push(m.name, ...m.states);
  for (const name of map.intentNames) {
    const intent = map.intent(name);
    if (intent === undefined) continue;
    out.push(name, intent.description);
    for (const [p, spec] of Object.entries(intent.params)) {
      out.push(p);
      if (spec.description !== undefined) out.push(spec.description);
      if (spec.kind === 'ref') out.push(spec.entity);
      if (spec.kind === 'string' && spec.enum !== undefined) out.push(...spec.enum);
    }
  }
  out.push(...Object.keys(doc.entities));
  out.push(...Object.keys(doc.display.values), ...Object.keys(doc.display.free_text));
  return out;
}
