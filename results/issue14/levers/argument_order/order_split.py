"""Exact match split by whether every target call's arguments come in the offered schema's property order."""
import json, sys
from collections import Counter
data = {}
for l in open(sys.argv[1]):
    d = json.loads(l); data[d['id']] = d
for ev in sys.argv[2:]:
    e = json.load(open(ev))
    c = Counter()
    for p in e['per_example']:
        d = data[p['id']]; t = d['target']
        ts = t if isinstance(t, list) else [t] if t else []
        fns = {x['function']['name']: x['function'] for x in d['tools']}
        if not ts:
            kind = 'nocall'
        else:
            ok = all(list(c_['arguments']) == [k for k in fns[c_['name']]['parameters']['properties'] if k in c_['arguments']] for c_ in ts)
            kind = 'schema_order' if ok else 'other_order'
        c[(kind, 'n')] += 1; c[(kind, 'exact')] += bool(p['exact'])
        if not p['exact']: c[(kind, p['error_type'])] += 1
    print(ev); [print('  ', k, v) for k, v in sorted(c.items())]
