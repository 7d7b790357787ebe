export async function buildHtmlReport(..._a: unknown[]): Promise<string> { return ''; }
