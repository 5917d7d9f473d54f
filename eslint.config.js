import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly' },
      parserOptions: {
        // Each file is typed by its nearest tsconfig.json: the root one for src/, and test/, bench/ and
        // scripts/ each have one extending tsconfig.test.json. Only this file is outside every project.
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      // A rest sibling drops a key on purpose (`const { cluster: _, ...single } = target`).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // strictTypeChecked has both, but they are why this config is type-aware: keep them on by name.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // A union switched on must name every member, so a new member is a compile-time decision.
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      // Numbers read naturally in messages; anything else (undefined, unions, objects) must be turned
      // into text on purpose.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowAny: false, allowBoolean: false, allowNullish: false, allowNumber: true, allowRegExp: false, allowNever: false },
      ],
      // `() => resolve()` and `(x) => list.push(x)` are the house style for callbacks; a returned void
      // is still flagged outside arrow shorthands.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Brackets on index-signature records (process.env, JWT claims, label maps) mark a key that may be
      // absent; the stylistic rule would rewrite them all to dot access.
      '@typescript-eslint/dot-notation': 'off',
      // Timeout and step wrappers re-reject whatever they caught; wrapping it would change what the
      // error classifier sees.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // It asks for `x!` where src/ writes `x as T`, and no-non-null-assertion (strict) forbids `x!`.
      '@typescript-eslint/non-nullable-type-assertion-style': 'off',
      'no-console': 'off',
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // node:test's describe/it/test return promises the runner itself tracks; awaiting them is not the idiom.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
    },
  },
  {
    files: ['test/**', 'bench/**', 'scripts/**'],
    rules: {
      // Tests and tools read results the types promise but a broken build may not deliver: `result?.x`
      // keeps a failing assertion's message instead of a TypeError, so optional chains stay.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Fakes implement async interfaces without needing to await anything.
      '@typescript-eslint/require-await': 'off',
      // Log fields parsed from JSON are unknown; String() on them is how a test prints what it got.
      '@typescript-eslint/no-base-to-string': 'off',
      // Diagnostic messages print whatever value they got, undefined and booleans included.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowAny: false, allowBoolean: true, allowNullish: true, allowNumber: true, allowRegExp: false, allowNever: false },
      ],
    },
  },
);
