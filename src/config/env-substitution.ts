/** `${VAR}` / `${VAR:-fallback}` substitution in every string of a parsed YAML tree. */

export interface SubstitutionIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/** An environment variable name: letters, digits and `_`, not starting with a digit. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LITERAL = 'write $${ for a literal "${"';

/** Returns a copy of `tree` with references replaced; unset variables without fallback become issues. */
export function substituteEnv(
  tree: unknown,
  env: Readonly<Record<string, string | undefined>>,
  issues: SubstitutionIssue[],
  path: (string | number)[] = [],
): unknown {
  if (typeof tree === 'string') return substituteString(tree, env, (message) => issues.push({ path, message }));
  if (Array.isArray(tree)) return tree.map((item, index) => substituteEnv(item, env, issues, [...path, index]));
  if (tree !== null && typeof tree === 'object') {
    return Object.fromEntries(Object.entries(tree).map(([key, value]) => [key, substituteEnv(value, env, issues, [...path, key])]));
  }
  return tree;
}

/**
 * Scans one string. A malformed reference is an issue rather than literal text: left as it was, `${HOST`
 * or `${A:-${B}}` became a host name that can never resolve. Issues give positions, not the text, which
 * may be an inline password.
 */
function substituteString(text: string, env: Readonly<Record<string, string | undefined>>, report: (message: string) => void): string {
  let result = '';
  let index = 0;
  while (index < text.length) {
    const dollar = text.indexOf('$', index);
    if (dollar === -1) break;
    result += text.slice(index, dollar);
    const next = text[dollar + 1];
    if (next === '$') {
      result += '$';
      index = dollar + 2;
      continue;
    }
    if (next !== '{') {
      result += '$';
      index = dollar + 1;
      continue;
    }
    const at = `character ${dollar + 1}`;
    const close = text.indexOf('}', dollar + 2);
    if (close === -1) {
      report(`the "\${" at ${at} has no closing "}"; close the reference, or ${LITERAL}`);
      return text;
    }
    const body = text.slice(dollar + 2, close);
    const separator = body.indexOf(':-');
    const name = separator === -1 ? body : body.slice(0, separator);
    const fallback = separator === -1 ? undefined : body.slice(separator + 2);
    index = close + 1;
    // A malformed reference stays as it was written, so the schema does not add a second issue for the field.
    if (!ENV_NAME.test(name)) {
      report(`the reference at ${at} does not start with a variable name (letters, digits and "_", not starting with a digit); fix the name, or ${LITERAL}`);
      result += text.slice(dollar, index);
      continue;
    }
    if (fallback?.includes('${')) {
      report(`the fallback of the reference at ${at} holds another "\${"; references do not nest: use one variable, or ${LITERAL}`);
      result += text.slice(dollar, index);
      continue;
    }
    const value = env[name];
    if (value !== undefined) result += value;
    else if (fallback !== undefined) result += fallback;
    else {
      report(`environment variable ${name} is not set; export it, give a fallback with \${${name}:-value}, or write $\${${name}} for a literal`);
      result += `\${${name}}`;
    }
  }
  return result + text.slice(index);
}
