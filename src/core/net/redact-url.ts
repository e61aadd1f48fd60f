// One redaction for every URL that may reach a log line, a metrics label, /readyz or /api/stats:
// an upstream such as relay+https://relay.example/?token=SECRET (which docs/relay.md recommends)
// or a proxy with a password. Whoever can read a log or scrape /metrics must not learn them (#15).

/** Query parameters whose value is a credential. `pin` is a public key's hash: kept, it helps. */
const SECRET_PARAM = /([?&;](?:token|access_token|auth|key|api_key|apikey|password|pass|secret)=)[^&;#]+/gi;
const HIDDEN = '****';

/**
 * `text` with the values of credential parameters (`?token=`) and the password of any user
 * information (`http://user:PASSWORD@host`) replaced by ****. Text that is not a URL comes back
 * as it is, so this is safe to call on anything shown.
 */
export function redactUrl(text: string): string {
  // Parameters first: once hidden, a token holding "@" cannot be taken for user information.
  const out = text.replace(SECRET_PARAM, `$1${HIDDEN}`);
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(out);
  const from = scheme ? scheme[0].length : 0;
  // The last "@": a password may itself hold "@" or "/", which a user would not percent-encode.
  const at = out.lastIndexOf('@');
  const colon = out.indexOf(':', from);
  if (at < from || colon < 0 || colon > at) return out;
  return `${out.slice(0, colon + 1)}${HIDDEN}${out.slice(at)}`;
}
