/**
 * GitLab's two ways of paging a list. Offset pagination sends the x-* headers and a Link header
 * with prev/next/first/last; keyset pagination sends only a Link rel="next" while more remain.
 * Links carry every parameter of the request, since clients (gitbeaker among them) follow the
 * Link header by taking its query as the next request's parameters.
 */
export interface Page {
  items: unknown[];
  headers: Record<string, string>;
}

/** A list that makes its items on demand, so long lists cost only the page asked for. */
export interface Source<T> {
  length: number;
  get(index: number): T;
}

/** The same items, last first. */
export function reversed<T>(source: Source<T>): Source<T> {
  return { length: source.length, get: (i) => source.get(source.length - 1 - i) };
}

/** The items whose index passes `keep`, in their order; the indexes are found once, the items made only for the page asked. */
export function filtered<T>(source: Source<T>, keep: (index: number) => boolean): Source<T> {
  const indexes: number[] = [];
  for (let i = 0; i < source.length; i++) if (keep(i)) indexes.push(i);
  return { length: indexes.length, get: (i) => source.get(indexes[i]!) };
}

export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 100;

export function perPageOf(query: Record<string, string>): number {
  const asked = Number(query.per_page);
  if (!Number.isInteger(asked) || asked < 1) return DEFAULT_PER_PAGE;
  return Math.min(asked, MAX_PER_PAGE);
}

/** baseUrl: the double's URL with the request's path, to which the links add the query. */
export function offsetPage<T>(source: Source<T>, query: Record<string, string>, baseUrl: string, render: (item: T) => unknown): Page {
  const perPage = perPageOf(query);
  const askedPage = Number(query.page);
  const page = Number.isInteger(askedPage) && askedPage >= 1 ? askedPage : 1;
  const total = source.length;
  const totalPages = Math.max(1, Math.ceil(total / perPage));
  const items: unknown[] = [];
  for (let i = (page - 1) * perPage; i < Math.min(total, page * perPage); i++) items.push(render(source.get(i)));
  const link = (p: number) => `${baseUrl}?${new URLSearchParams({ ...query, page: String(p), per_page: String(perPage) })}`;
  const links: string[] = [];
  if (page > 1) links.push(`<${link(Math.min(page - 1, totalPages))}>; rel="prev"`);
  if (page < totalPages) links.push(`<${link(page + 1)}>; rel="next"`);
  links.push(`<${link(1)}>; rel="first"`, `<${link(totalPages)}>; rel="last"`);
  return {
    items,
    headers: {
      'x-page': String(page),
      'x-per-page': String(perPage),
      'x-next-page': page < totalPages ? String(page + 1) : '',
      'x-prev-page': page > 1 ? String(Math.min(page - 1, totalPages)) : '',
      'x-total': String(total),
      'x-total-pages': String(totalPages),
      link: links.join(', '),
    },
  };
}

/** Keyset pagination by id (order_by=id, sort=asc|desc, id_after / id_before); items must be by id ascending. */
export function keysetPage<T extends { id: number }>(
  items: readonly T[],
  query: Record<string, string>,
  baseUrl: string,
  render: (item: T) => unknown,
): Page | { error: string } {
  if ((query.order_by ?? 'id') !== 'id') return { error: 'Keyset pagination is only supported when ordering by id' };
  const perPage = perPageOf(query);
  const descending = query.sort === 'desc';
  const ordered = descending ? [...items].reverse() : items;
  const bound = Number(descending ? query.id_before : query.id_after);
  const start = Number.isFinite(bound) && bound > 0 ? ordered.findIndex((item) => (descending ? item.id < bound : item.id > bound)) : 0;
  const from = start < 0 ? ordered.length : start;
  const slice = ordered.slice(from, from + perPage);
  const headers: Record<string, string> = {};
  if (from + perPage < ordered.length) {
    const next = new URLSearchParams(query);
    next.delete('id_after');
    next.delete('id_before');
    next.set('per_page', String(perPage));
    next.set(descending ? 'id_before' : 'id_after', String(slice[slice.length - 1].id));
    headers.link = `<${baseUrl}?${next}>; rel="next"`;
  }
  return { items: slice.map(render), headers };
}
