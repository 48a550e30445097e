/** Query parameters that carry credentials in connection URLs (Postgres' `password`, S3-style signatures). */
const SECRET_PARAMS = /^(password|pass|secret|token|sslpassword|x-amz-signature|x-amz-credential)$/i;

/**
 * A URL fit for a log line or an error message: its password and credential-bearing query parameters
 * become `***`, also in text that does not parse as a URL (a mistyped URL is when it gets shown).
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url
      .replace(/(\/\/[^/@]*?:)[^/@]*@/, '$1***@')
      .replace(/([?&])([^=&]+)=([^&]*)/g, (all, sep: string, key: string) => (SECRET_PARAMS.test(key) ? `${sep}${key}=***` : all));
  }
  if (parsed.password) parsed.password = '***';
  for (const key of [...parsed.searchParams.keys()]) if (SECRET_PARAMS.test(key)) parsed.searchParams.set(key, '***');
  return parsed.toString();
}
