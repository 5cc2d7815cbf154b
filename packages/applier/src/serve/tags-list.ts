/** One page of `GET /v2/<name>/tags/list`, and the `last` of the next page when there is one. */
export interface TagsPage {
  tags: string[];
  /** Set when more tags follow: the next request is `?n=<n>&last=<next>`. */
  next?: string;
}

/**
 * Pure. The distribution spec's pagination (distribution docs/content/spec/api.md "Listing Image
 * Tags" → "Pagination"): tags in lexical order, only those after `last`, at most `n`; `n=0` is an
 * empty page (as distribution registry/handlers/tags.go:61 answers it). `n` undefined: all of them.
 */
export function tagsPage(all: readonly string[], n: number | undefined, last: string | undefined): TagsPage {
  // Lexical by code unit, as Go's sort.Strings orders them (not localeCompare).
  const sorted = [...new Set(all)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const after = last === undefined ? sorted : sorted.filter((t) => t > last);
  if (n === undefined) return { tags: after };
  const tags = after.slice(0, n);
  return n > 0 && after.length > n ? { tags, next: tags.at(-1)! } : { tags };
}

/** `n` from the query: a non-negative integer, or undefined; NaN when it is not one (400). */
export function parsePageSize(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  return /^\d{1,9}$/.test(value) ? Number(value) : NaN;
}
