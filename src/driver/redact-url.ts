/**
 * Passwords in connection URLs, read by the URL's structure *before* anything parses it.
 *
 * People paste passwords into URLs without percent-encoding them, and a password may hold `@`, `:`, `/`, `?`
 * or `#`. A WHATWG parser then splits the URL in the wrong place (`postgres://u:pa#ss@host/db` becomes host
 * `u`, port `pa`, fragment `ss@host/db`), and any message built from its pieces prints the password. So the
 * redaction never relies on a parser: everything between `scheme://` and the last `@` is the userinfo, and
 * everything in it after the first `:` is secret.
 */

/** Query parameters whose value is a secret (pg reads `?password=`; mysql2's `ssl` JSON may hold a key or passphrase; the others are masked in case). */
const SECRET_PARAM = /([?&;](?:password|passwd|pass|pwd|sslpassword|secret|token|access[_-]?token|api[_-]?key|ssl|ssl[_-]?key|sslcert|passphrase|key)=)(?:[^&\s]|&(?![\w.-]+=))*/gi

/**
 * Replaces the password of a URL-like string with `***`, even when the rest of it does not parse: the user
 * name is kept when it holds no `/`, `?`, `#` (then it cannot be part of a password), and the values of
 * `?password=`-like query parameters are masked too. Masks more rather than less when a URL is ambiguous.
 *
 * ### Examples
 * ```ts
 * redactUrl('postgres://u:pa#ss@db.example/app')    // 'postgres://u:***@db.example/app'
 * redactUrl('mysql://root:p@ss/w?rd@127.0.0.1/test') // 'mysql://root:***@127.0.0.1/test'
 * ```
 */
export function redactUrl(url: string): string {
  const m = /^(\s*[a-z][a-z0-9+.-]*:)(\/\/)?([\s\S]*)$/i.exec(url)
  if (!m) return maskParams(maskUserinfo(url, false))
  const [, scheme = '', slashes, body = ''] = m
  return maskParams(scheme + (slashes ?? '') + maskUserinfo(body, slashes !== undefined))
}

function maskUserinfo(body: string, hierarchical: boolean): string {
  const at = body.lastIndexOf('@')
  if (at < 0) {
    // No `@`: `host:port` is fine, but `user:secret` typed without a host must not be echoed.
    const end = body.search(/[/?#]/)
    const authority = end < 0 ? body : body.slice(0, end)
    const colon = authority.indexOf(':')
    if (colon >= 0 && !/^\d*$/.test(authority.slice(colon + 1)) && !authority.startsWith('[')) {
      return `${authority.slice(0, colon)}:***${end < 0 ? '' : body.slice(end)}`
    }
    return body
  }
  const userinfo = body.slice(0, at)
  const colon = userinfo.indexOf(':')
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon)
  // Without `//` (`u:secret@host`, a mistyped scheme), or when the "user" holds a delimiter, all of it may be secret.
  if (!hierarchical || /[/?#\s]/.test(user)) return `***${body.slice(at)}`
  return colon < 0 ? body : `${user}:***${body.slice(at)}`
}

function maskParams(text: string): string {
  return text.replace(SECRET_PARAM, '$1***')
}

/** One way to read a `scheme://` URL: the raw (still percent-encoded) pieces. */
export interface UrlReading {
  readonly user: string | undefined
  readonly password: string | undefined
  /** `host`, `host:port`, `[::1]:5432`, or empty. */
  readonly hostPort: string
  /** Path, query and fragment as typed: empty or starting with `/`, `?` or `#`. */
  readonly tail: string
}

/** The outcome of {@link readNetworkUrl}: one reading, or why there is none. */
export type UrlSplit = { readonly kind: 'ok'; readonly reading: UrlReading } | { readonly kind: 'ambiguous' } | { readonly kind: 'invalid' }

/**
 * Splits the part of a URL after `scheme://` into userinfo, host and the rest, accepting a password that was
 * not percent-encoded when only one reading makes sense.
 *
 * Two readings are possible once an `@` follows a `/`, `?` or `#`: the standard one (the authority ends at
 * the first `/`, `?` or `#`, so the `@` is in the path or query) and the structural one (the userinfo ends
 * at the last `@`, so the password holds the delimiter). A reading is plausible when its host is a host
 * (`[^:@]` characters and a numeric port) and, for the standard reading, its path holds no `@`, its query is
 * `key=value` pairs and it has no fragment (a database URL has none). One plausible reading is taken; two
 * are `ambiguous` (the caller asks for percent-encoding); none is `invalid`.
 */
export function readNetworkUrl(body: string): UrlSplit {
  const firstDelimiter = body.search(/[/?#]/)
  const authorityEnd = firstDelimiter < 0 ? body.length : firstDelimiter
  const standardAt = body.lastIndexOf('@', authorityEnd - 1)
  const structuralAt = body.lastIndexOf('@')
  const standard = reading(body, standardAt < authorityEnd ? standardAt : -1)
  if (structuralAt < authorityEnd) return standard ? { kind: 'ok', reading: standard } : { kind: 'invalid' }
  const structural = reading(body, structuralAt)
  const standardPlausible = standard !== undefined && plainTail(standard.tail)
  if (structural && standardPlausible) return { kind: 'ambiguous' }
  if (structural) return { kind: 'ok', reading: structural }
  if (standard && standardPlausible) return { kind: 'ok', reading: standard }
  return { kind: 'invalid' }
}

function reading(body: string, at: number): UrlReading | undefined {
  const userinfo = at < 0 ? undefined : body.slice(0, at)
  const after = body.slice(at + 1)
  const end = after.search(/[/?#]/)
  const hostPort = end < 0 ? after : after.slice(0, end)
  if (!/^(?:\[[0-9a-f:.]*\]|[^\s:@[\]]*)(?::\d*)?$/i.test(hostPort)) return undefined
  let user: string | undefined
  let password: string | undefined
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':')
    user = colon < 0 ? userinfo : userinfo.slice(0, colon)
    password = colon < 0 ? undefined : userinfo.slice(colon + 1)
    // A user name is short and typed once: one that holds a delimiter means this reading is wrong.
    if (/[/?#@\s]/.test(user)) return undefined
  }
  return { user, password, hostPort, tail: end < 0 ? '' : after.slice(end) }
}

function plainTail(tail: string): boolean {
  if (tail.includes('#')) return false
  const q = tail.indexOf('?')
  const path = q < 0 ? tail : tail.slice(0, q)
  if (path.includes('@')) return false
  if (q < 0) return true
  return tail
    .slice(q + 1)
    .split('&')
    .every((pair) => pair === '' || /^[\w.-]+=[^=]*$/.test(pair))
}
