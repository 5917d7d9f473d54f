/** `${VAR}` / `${VAR:-fallback}` substitution in every string of a parsed YAML tree. */

export interface SubstitutionIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Returns a copy of `tree` with references replaced; unset variables without fallback become issues. */
export function substituteEnv(
  tree: unknown,
  env: Readonly<Record<string, string | undefined>>,
  issues: SubstitutionIssue[],
  path: (string | number)[] = [],
): unknown {
  if (typeof tree === 'string') {
    return tree.replace(REFERENCE, (whole, name: string | undefined, fallback: string | undefined) => {
      if (whole === '$$') return '$';
      const value = env[name as string];
      if (value !== undefined) return value;
      if (fallback !== undefined) return fallback;
      issues.push({
        path,
        message: `environment variable ${name} is not set; export it, give a fallback with \${${name}:-value}, or write $\${${name}} for a literal`,
      });
      return whole;
    });
  }
  if (Array.isArray(tree)) return tree.map((item, index) => substituteEnv(item, env, issues, [...path, index]));
  if (tree !== null && typeof tree === 'object') {
    return Object.fromEntries(
      Object.entries(tree).map(([key, value]) => [key, substituteEnv(value, env, issues, [...path, key])]),
    );
  }
  return tree;
}
