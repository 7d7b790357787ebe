import taxonomy from '../../data/flask/domain_taxonomy.json' with { type: 'json' };

/** The 10 FLASK domains, in the taxonomy's order (domain_taxonomy.json). */
export const DOMAINS = Object.keys(taxonomy) as readonly string[];
export const DOMAIN_TAXONOMY: Readonly<Record<string, readonly string[]>> = taxonomy;

const byLower = new Map(DOMAINS.map((d) => [d.toLowerCase(), d]));

/** Case- and spacing-insensitive lookup ("natural_science" -> "Natural Science"). */
export function resolveDomain(text: string): string | undefined {
  return byLower.get(text.toLowerCase().replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim());
}
