// Every type a public signature names is exported from the package entry,
// so that TypeScript users can name it too (a WaitOptions variable, a
// VtConsole[]). Checked with the compiler itself over lib/index.ts.
import { join, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = process.cwd();
const lib = join(root, 'lib') + sep;

function program(): ts.Program {
  const file = join(root, 'tsconfig.json');
  const config = ts.readConfigFile(file, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, { noEmit: true }, file);
  return ts.createProgram([join(root, 'lib', 'index.ts')], parsed.options);
}

const hidden = (m: ts.Node): boolean =>
  (ts.canHaveModifiers(m) && (ts.getModifiers(m) ?? []).some((x) => x.kind === ts.SyntaxKind.PrivateKeyword)) ||
  ((m as ts.NamedDeclaration).name !== undefined && ts.isPrivateIdentifier((m as ts.NamedDeclaration).name!)) ||
  ts.getJSDocTags(m).some((t) => t.tagName.text === 'internal');

/** The parts of a declaration its users see: signatures and types, never bodies or private members. */
function surface(d: ts.Node): ts.Node[] {
  const sig = (f: ts.SignatureDeclaration): ts.Node[] => [...(f.typeParameters ?? []), ...f.parameters.map((p) => p.type), f.type].filter((n): n is NonNullable<typeof n> => n !== undefined);
  if (ts.isClassDeclaration(d)) {
    return [...(d.heritageClauses ?? []), ...d.members.filter((m) => !hidden(m)).flatMap((m) => (ts.isPropertyDeclaration(m) ? (m.type ? [m.type] : []) : 'parameters' in m ? sig(m as ts.SignatureDeclaration) : []))];
  }
  if (ts.isFunctionDeclaration(d)) return sig(d);
  if (ts.isVariableDeclaration(d)) return d.type ? [d.type] : [];
  return [d]; // interfaces and type aliases: all of it
}

describe('public types', () => {
  it('every type named by an exported signature is exported from lib/index.ts', () => {
    const p = program();
    const checker = p.getTypeChecker();
    const resolve = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
    const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(p.getSourceFile(join(root, 'lib', 'index.ts'))!)!);
    const exported = new Set(exports.map(resolve));
    expect(exports.map((e) => e.name)).toContain('Mapping'); // the walk below sees the real exports

    const missing = new Set<string>();
    for (const e of exports) {
      for (const d of resolve(e).declarations ?? []) {
        const visit = (n: ts.Node): void => {
          const name = ts.isTypeReferenceNode(n) ? n.typeName : ts.isExpressionWithTypeArguments(n) ? n.expression : undefined;
          const s = name && checker.getSymbolAtLocation(name);
          if (s) {
            const t = resolve(s);
            const inLib = (t.declarations ?? []).some((x) => x.getSourceFile().fileName.startsWith(lib));
            if (inLib && !(t.flags & ts.SymbolFlags.TypeParameter) && !exported.has(t)) missing.add(`${t.name} (in ${e.name})`);
          }
          ts.forEachChild(n, visit);
        };
        surface(d).forEach(visit);
      }
    }
    expect([...missing]).toEqual([]);
  });
});
