"""The house in numbers: modules, lines, import edges between modules, modules that import `core`, functions over
60 lines.

    python benchmarks/house.py [CHECKOUT ...]   # default: this checkout; give two to compare (a worktree of an older commit)

Counted on `powderflow/` (the exported library, its two `__init__.py` included, `_modidx.py` and `__main__.py` left
out), with Python's own parser: an import edge is one module importing another of the package (relative or
absolute), counted once per pair."""
import ast, sys
from pathlib import Path

def house(checkout):
    "The counts for one checkout's `powderflow/`"
    root = Path(checkout)/'powderflow'
    files = [p for p in sorted(root.rglob('*.py')) if p.name not in ('_modidx.py', '__main__.py')]
    names = {'.'.join(p.relative_to(root).with_suffix('').parts) for p in files}
    out = dict(modules=len(files), lines=0, import_edges=0, modules_importing_core=0, functions_over_60_lines=0)
    for p in files:
        src = p.read_text(); tree = ast.parse(src); out['lines'] += len(src.splitlines())
        me = '.'.join(p.relative_to(root).with_suffix('').parts)
        package = me.split('.')[:-1]   # a module's package; an __init__'s is the package it opens
        targets = set()
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom):
                if n.level:   # relative: from its package, one level up per extra dot
                    base = package[:len(package) - (n.level - 1)]
                    if n.module: targets.add('.'.join([*base, n.module]))
                    else: targets |= {'.'.join([*base, a.name]) for a in n.names}
                elif n.module and n.module.startswith('powderflow.'): targets.add(n.module[len('powderflow.'):])
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60:
                out['functions_over_60_lines'] += 1
        targets = {t for t in targets if t in names and t != me}
        out['import_edges'] += len(targets); out['modules_importing_core'] += 'core' in targets
    return out

if __name__ == '__main__':
    for c in sys.argv[1:] or [Path(__file__).resolve().parents[1]]: print(c, house(c))
