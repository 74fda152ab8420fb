// Bookshelf: a small catalogue rendered with mustache (from npm, unmodified).
//
// - `GET /` lists the books, `?q=` filters them by title or author (case-insensitive);
// - `GET /books/<id>` shows one book;
// - any other path is a 404 page, any other method a 405 with an Allow header.
//
// Mustache escapes every `{{value}}` as HTML, so a query echoed back is safe.

import Mustache from 'mustache';

const BOOKS = [
  { id: 'sicp', title: 'Structure and Interpretation of Computer Programs', author: 'Abelson & Sussman', year: 1985 },
  { id: 'taocp', title: 'The Art of Computer Programming', author: 'Donald Knuth', year: 1968 },
  { id: 'k-and-r', title: 'The C Programming Language', author: 'Kernighan & Ritchie', year: 1978 },
  { id: 'ddia', title: 'Designing Data-Intensive Applications', author: 'Martin Kleppmann', year: 2017 },
];

const LAYOUT = `<!doctype html>
<title>{{title}}</title>
<h1>{{title}}</h1>
{{> content}}
`;

const LIST = `{{#query}}<p>Books matching “{{query}}”:</p>
{{/query}}<ul>
{{#books}}
<li><a href="/books/{{id}}">{{title}}</a> by {{author}}</li>
{{/books}}
{{^books}}
<li>No book matches.</li>
{{/books}}
</ul>
`;

const BOOK = `<p>{{book.title}}, by {{book.author}} ({{book.year}}).</p>
<p><a href="/">All books</a></p>
`;

const NOT_FOUND = `<p>Nothing at {{path}}.</p>
`;

const NOT_ALLOWED = `<p>{{method}} is not allowed here: the shelf is read-only.</p>
`;

// Parsed once, while the component is pre-initialised (wizer runs this top level).
for (const template of [LAYOUT, LIST, BOOK, NOT_FOUND, NOT_ALLOWED]) Mustache.parse(template);

const HTML = ['Content-Type', 'text/html; charset=utf-8'];

function page(startResponse, status, title, content, view, extra = []) {
  startResponse(status, [HTML, ...extra]);
  return [Mustache.render(LAYOUT, { title, ...view }, { content })];
}

/** The request's own text: environ values hold one byte per code unit. */
function utf8(latin1) {
  return new TextDecoder().decode(Uint8Array.from(latin1, (c) => c.charCodeAt(0)));
}

export function application(environ, startResponse) {
  const method = environ.REQUEST_METHOD;
  const path = utf8(environ.PATH_INFO || '/');
  if (method !== 'GET' && method !== 'HEAD') {
    return page(startResponse, '405 Method Not Allowed', 'Method not allowed', NOT_ALLOWED, { method }, [
      ['Allow', 'GET, HEAD'],
    ]);
  }
  if (path === '/') {
    const query = (new URLSearchParams(environ.QUERY_STRING ?? '').get('q') ?? '').trim();
    const needle = query.toLowerCase();
    const books = BOOKS.filter(
      (b) => !needle || b.title.toLowerCase().includes(needle) || b.author.toLowerCase().includes(needle),
    );
    return page(startResponse, '200 OK', 'Bookshelf', LIST, { books, query });
  }
  const match = /^\/books\/([a-z0-9-]+)$/.exec(path);
  const book = match && BOOKS.find((b) => b.id === match[1]);
  if (book) return page(startResponse, '200 OK', book.title, BOOK, { book });
  return page(startResponse, '404 Not Found', 'Not found', NOT_FOUND, { path });
}
